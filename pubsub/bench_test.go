package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// BenchmarkPublishDeliver measures the pubsub layer alone (no HTTP): two
// services in this process over loopback libp2p, 1 KiB payloads published
// on one and received by a subscriber on the other. Publishing never
// waits for receivers, so the publisher keeps at most benchWindow
// messages outstanding: unpaced, it outruns the receiver by more than the
// history and the receiver rightly reports gaps.
const benchWindow = 1000

func BenchmarkPublishDeliver(b *testing.B) {
	tc := newTestClusterB(b, 2)
	sub, err := tc.svcs[0].Subscribe(b.Context(), "acme", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	name, _ := TopicName("acme", "bench")
	if _, err := tc.svcs[1].topic(name, true); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // let the subscriptions propagate
	payload := make([]byte, 1024)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	received := make(chan struct{}, benchWindow)
	for range benchWindow {
		received <- struct{}{}
	}
	go func() {
		for range b.N {
			<-received
			if _, err := tc.svcs[1].Publish(context.Background(), "acme", "bench", "application/octet-stream", payload); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	for i := range b.N {
		ev, err := sub.Next(ctx)
		if err != nil || ev.Kind != EventMessage || ev.Seq != uint64(i+1) {
			b.Fatalf("event %d: %+v %v", i, ev, err)
		}
		received <- struct{}{}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(testutil.ToFloat64(tc.svcs[0].met.backfilled), "backfilled")
}
