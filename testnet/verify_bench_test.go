package testnet

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkVerifyHTTP measures POST /v1/sessions/verify over real HTTP
// against one agent process: many client goroutines (b.RunParallel with
// SetParallelism), each sending verifications back to back. It reports
// verifications per second and the p99 latency. The agent is the race
// build unless CASSNET_BIN names another; for figures use a plain build:
//
//	go build -o /tmp/cassnet ./cmd/cassnet
//	CASSNET_BIN=/tmp/cassnet go test ./testnet/ -run '^$' -bench VerifyHTTP -benchtime 20000x
func BenchmarkVerifyHTTP(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a real agent process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := b.TempDir()
	c, err := NewCluster(Config{Bin: binPath, Dir: dir, AgentArgs: fastArgs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Shutdown()
		if b.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "n1.log")); err == nil {
				b.Logf("n1 log:\n%s", tail(log, 4000))
			}
		}
	})
	n, err := c.AddNode(ctx, "n1", "127.0.0.1", "--voters", "1", "--log-level", "warn")
	if err != nil {
		b.Fatal(err)
	}
	admin := NewClient(c.AdminToken())
	var token string
	err = WaitFor(ctx, func() error {
		r, err := admin.Do(ctx, http.MethodPost, n.HTTPAddr(), "/v1/tenants", map[string]any{"name": "bench"})
		if err != nil {
			return err
		}
		if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
			return &statusError{r}
		}
		r, err = admin.Do(ctx, http.MethodPost, n.HTTPAddr(), "/v1/tenants/bench/sessions", map[string]any{"player_id": "p1"})
		if err != nil {
			return err
		}
		if r.Status != http.StatusCreated {
			return &statusError{r}
		}
		var s struct {
			Token string `json:"token"`
		}
		if err := r.JSON(&s); err != nil {
			return err
		}
		token = s.Token
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	const clients = 32
	par := max(1, clients/runtime.GOMAXPROCS(0)) // RunParallel multiplies by GOMAXPROCS
	// The same client as the bench's verify phase (verifyLoad): one
	// keep-alive connection per goroutine, each answer a 200 with
	// "valid":true.
	vl, err := newVerifyLoad(n.HTTPAddr(), c.AdminToken(), token, par*runtime.GOMAXPROCS(0))
	if err != nil {
		b.Fatal(err)
	}
	defer vl.close()

	var mu sync.Mutex
	var all Histogram
	var next atomic.Int32
	b.SetParallelism(par)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := int(next.Add(1)) - 1
		var h Histogram
		for seq := 0; pb.Next(); seq++ {
			t0 := time.Now()
			if err := vl.verify(ctx, client, seq); err != nil {
				b.Errorf("verify: %v", err)
				return
			}
			h.Record(time.Since(t0))
		}
		mu.Lock()
		all.Merge(&h)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	s := all.Summary()
	b.ReportMetric(float64(s.Count)/elapsed.Seconds(), "verifications/s")
	b.ReportMetric(float64(s.P99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(s.P50.Microseconds())/1000, "p50_ms")
}

type statusError struct{ r *Response }

func (e *statusError) Error() string { return http.StatusText(e.r.Status) + ": " + string(e.r.Body) }
