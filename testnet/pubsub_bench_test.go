package testnet

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmark shape: 1 KiB payloads, published on the last node, received
// by one SSE subscriber on the first node. "throughput" publishes b.N
// messages from pubConcurrency HTTP clients as fast as the cluster takes
// them; "latency" publishes b.N messages at latencyRate per second from
// one client. Latency is end to end, client clock to client clock: the
// HTTP publish, sequencing, GossipSub, ordering, SSE. Run with:
//
//	go test ./testnet/ -run '^$' -bench PubSub -benchtime 20000x
const (
	benchPayload   = 1024
	pubConcurrency = 16
	latencyRate    = 500
)

// BenchmarkPubSub runs the agents on 3 and 5 nodes, then NATS (3
// clustered nats-server processes) the same way if nats-server is in PATH.
func BenchmarkPubSub(b *testing.B) {
	if testing.Short() {
		b.Skip("starts real agent processes")
	}
	bin := benchBinary(b)
	for _, n := range []int{3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			nodes, token := startBenchCluster(b, ctx, bin, n)
			runs := 0
			topic := func() string { runs++; return fmt.Sprintf("bench-%d", runs) }
			b.Run("throughput", func(b *testing.B) {
				benchPubSubRun(b, ctx, nodes, token, topic(), 0)
			})
			b.Run("latency", func(b *testing.B) {
				benchPubSubRun(b, ctx, nodes, token, topic(), latencyRate)
			})
		})
	}
	b.Run("nats/servers=3", benchNATS)
}

// benchBinary builds a cassnet binary without -race (TestMain's has it).
func benchBinary(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("CASSNET_BENCH_BIN"); p != "" {
		return p
	}
	out := filepath.Join(b.TempDir(), "cassnet")
	build := exec.Command("go", "build", "-o", out, "../cmd/cassnet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build cassnet: %v", err)
	}
	return out
}

func startBenchCluster(b *testing.B, ctx context.Context, bin string, n int) ([]*Node, string) {
	b.Helper()
	c, err := NewCluster(Config{Bin: bin, Dir: b.TempDir(), AgentArgs: append(fastArgs[:len(fastArgs):len(fastArgs)],
		"--log-level", "warn", "--rate-limit-operator", "0")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Shutdown() })
	for i := 1; i <= n; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	cl := NewClient(c.AdminToken())
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := WaitVoters(wctx, cl, c.Nodes(), 3); err != nil { // --voters 3, the default
		b.Fatal(err)
	}
	if resp, err := cl.Do(ctx, http.MethodPost, c.Nodes()[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": "acme"}); err != nil || resp.Status != http.StatusCreated {
		b.Fatalf("create tenant: %v %v", resp, err)
	}
	waitPubSubMesh(b, ctx, cl, c.Nodes(), "acme")
	return c.Nodes(), c.AdminToken()
}

// benchPubSubRun publishes b.N messages on the last node and waits until
// the subscriber on the first has them all. rate 0 means as fast as
// possible with pubConcurrency publishers.
func benchPubSubRun(b *testing.B, ctx context.Context, nodes []*Node, token, topic string, rate int) {
	sub, err := openSSE(ctx, nodes[0].HTTPAddr(), token, "/v1/tenants/acme/topics/"+topic+"/events", "")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.close()
	pubNode := nodes[len(nodes)-1]
	hc := NewLoadHTTPClient(pubConcurrency)
	var next atomic.Int64
	var failed atomic.Int64
	publishOne := func() {
		payload := make([]byte, benchPayload)
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		code, body, err := publish(ctx, hc, pubNode.HTTPAddr(), token, "acme", topic, "application/octet-stream", payload)
		if err != nil || code != http.StatusAccepted {
			if failed.Add(1) == 1 {
				b.Errorf("publish: %d %s %v", code, body, err)
			}
		}
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	if rate == 0 {
		for range pubConcurrency {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					publishOne()
				}
			})
		}
	} else {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for range b.N {
				<-tick.C
				publishOne()
			}
		})
	}
	var lat Histogram
	var seqPrev uint64
	for i := 0; i < b.N-int(failed.Load()); i++ {
		ev := sub.next(b, 60*time.Second)
		if ev.Event != "message" {
			b.Fatalf("event %d: %s %s", i, ev.Event, ev.Data)
		}
		var m struct {
			Seq           uint64 `json:"seq"`
			PayloadBase64 []byte `json:"payload_base64"`
		}
		if err := json.Unmarshal(ev.Data, &m); err != nil || len(m.PayloadBase64) != benchPayload {
			b.Fatalf("event %d: %v (%d bytes)", i, err, len(m.PayloadBase64))
		}
		if m.Seq != seqPrev+1 {
			b.Fatalf("event %d: seq %d after %d", i, m.Seq, seqPrev)
		}
		seqPrev = m.Seq
		lat.Record(ev.At.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(m.PayloadBase64)))))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	wg.Wait()
	s := lat.Summary()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(s.P99.Microseconds())/1000, "p99-ms")
}
