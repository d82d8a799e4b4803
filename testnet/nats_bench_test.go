package testnet

import (
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// The NATS side of BenchmarkPubSub (the servers and the client are in
// nats.go).

// startNATS starts three clustered nats-server processes on 127.0.0.1 and
// returns their client addresses.
func startNATS(b *testing.B, bin string) []string {
	b.Helper()
	n, err := StartNATS(bin, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.Stop)
	return n.Addrs
}

func benchNATS(b *testing.B) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		b.Skip("nats-server not installed (apt-get install nats-server)")
	}
	addrs := startNATS(b, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runs := 0
	for _, mode := range []struct {
		name string
		rate int
	}{{"throughput", 0}, {"latency", latencyRate}} {
		b.Run(mode.name, func(b *testing.B) {
			runs++
			subject := fmt.Sprintf("bench.%d", runs)
			sub, err := dialNATS(ctx, addrs[0])
			if err != nil {
				b.Fatal(err)
			}
			defer sub.c.Close()
			pub, err := dialNATS(ctx, addrs[2])
			if err != nil {
				b.Fatal(err)
			}
			defer pub.c.Close()
			if err := sub.flushPing("SUB " + subject + " 1\r\n"); err != nil {
				b.Fatal(err)
			}
			// Let the subscription's interest reach the other servers.
			time.Sleep(200 * time.Millisecond)
			benchNATSRun(b, pub, sub, subject, mode.rate)
		})
	}
}

func benchNATSRun(b *testing.B, pub, sub *natsConn, subject string, rate int) {
	b.ResetTimer()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		var tick *time.Ticker
		if rate > 0 {
			tick = time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
		}
		payload := make([]byte, benchPayload)
		for range b.N {
			if tick != nil {
				<-tick.C
			}
			binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			if err := pub.pub(subject, payload, tick != nil); err != nil {
				errc <- err
				return
			}
		}
		pub.mu.Lock()
		defer pub.mu.Unlock()
		errc <- pub.w.Flush()
	}()
	var lat Histogram
	for i := range b.N {
		_ = sub.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		msg, err := sub.nextMsg()
		if err != nil {
			b.Fatalf("message %d of %d: %v (NATS drops for slow consumers)", i, b.N, err)
		}
		lat.Record(time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(msg)))))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	s := lat.Summary()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(s.P99.Microseconds())/1000, "p99-ms")
}
