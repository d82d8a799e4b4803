package testnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1)
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"one sample p50", []time.Duration{ms(7)}, 0.50, ms(7)},
		{"one sample p99", []time.Duration{ms(7)}, 0.99, ms(7)},
		{"two samples p50", []time.Duration{ms(1), ms(2)}, 0.50, ms(1)},
		{"two samples p90", []time.Duration{ms(1), ms(2)}, 0.90, ms(2)},
		{"four samples p50", []time.Duration{ms(1), ms(2), ms(3), ms(4)}, 0.50, ms(2)},
		{"1..100 p50", hundred, 0.50, ms(50)},
		{"1..100 p90", hundred, 0.90, ms(90)},
		{"1..100 p99", hundred, 0.99, ms(99)},
		{"1..100 p100", hundred, 1, ms(100)},
		{"1..100 p0", hundred, 0, ms(1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestHistogramSummary(t *testing.T) {
	var h Histogram
	if s := h.Summary(); s != (Summary{}) {
		t.Fatalf("empty histogram: %+v, want zero", s)
	}
	// 1..1000 ms, recorded in random order across two merged histograms.
	var a, b Histogram
	for i, v := range rand.Perm(1000) {
		if i%3 == 0 {
			a.Record(ms(v + 1))
		} else {
			b.Record(ms(v + 1))
		}
	}
	h.Merge(&a)
	h.Merge(&b)
	got := h.Summary()
	want := Summary{
		Count: 1000, Min: ms(1), Mean: 500500 * time.Microsecond,
		P50: ms(500), P90: ms(900), P99: ms(990), Max: ms(1000),
	}
	if got != want {
		t.Errorf("Summary() = %+v\nwant        %+v", got, want)
	}
}

func TestErrorClass(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&StatusError{Status: 503}, "HTTP 503"},
		{fmt.Errorf("wrapped: %w", &StatusError{Status: 409}), "HTTP 409"},
		{context.DeadlineExceeded, "timeout"},
		{&url.Error{Op: "Post", URL: "http://x", Err: errors.New("connection refused")}, "connection"},
		{errors.New("boom"), "other"},
	}
	for _, tc := range cases {
		if got := ErrorClass(tc.err); got != tc.want {
			t.Errorf("ErrorClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestLoadResultRates(t *testing.T) {
	r := LoadResult{Window: 2 * time.Second, OK: 500, Errors: map[string]int{"HTTP 503": 3, "timeout": 1}}
	if got := r.PerSecond(); got != 250 {
		t.Errorf("PerSecond() = %v, want 250", got)
	}
	if got := r.ErrorCount(); got != 4 {
		t.Errorf("ErrorCount() = %v, want 4", got)
	}
	if got := (LoadResult{}).PerSecond(); got != 0 {
		t.Errorf("zero window: PerSecond() = %v, want 0", got)
	}
}

// TestRunLoad drives an in-memory op: every third request fails, and each
// takes about a millisecond.
func TestRunLoad(t *testing.T) {
	cfg := LoadConfig{Clients: 4, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond}
	res, err := RunLoad(context.Background(), cfg, func(ctx context.Context, client, seq int) error {
		time.Sleep(time.Millisecond)
		if seq%3 == 2 {
			return &StatusError{Status: http.StatusServiceUnavailable}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Latency.Count != res.OK {
		t.Fatalf("OK = %d, latency count = %d", res.OK, res.Latency.Count)
	}
	if errs := res.Errors["HTTP 503"]; errs == 0 || errs > res.OK {
		t.Errorf("errors = %v with %d OK; want about half as many errors as successes", res.Errors, res.OK)
	}
	if res.Latency.Min < time.Millisecond {
		t.Errorf("min latency %v below the op's sleep", res.Latency.Min)
	}
	// Requests are at least 1 ms each, so 4 clients fit at most 400 in 100 ms.
	if total := res.OK + res.ErrorCount(); total > 400 {
		t.Errorf("%d requests counted in a 100 ms window, want <= 400", total)
	}
}

func TestRunLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RunLoad(ctx, LoadConfig{Clients: 2, Duration: time.Hour}, func(context.Context, int, int) error {
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// memTarget is an in-memory Target that records, per client, how many
// keys it wrote and how many of its reads hit.
type memTarget struct {
	mu     sync.Mutex
	stored map[string]bool
	writes map[int]int
	hits   map[int]int
	misses map[int]int
}

func newMemTarget() *memTarget {
	return &memTarget{stored: map[string]bool{}, writes: map[int]int{}, hits: map[int]int{}, misses: map[int]int{}}
}

func (m *memTarget) Write(_ context.Context, client int, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stored[key] {
		return fmt.Errorf("key %q written twice", key)
	}
	m.stored[key] = true
	m.writes[client]++
	return nil
}

func (m *memTarget) Read(_ context.Context, client int, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stored[key] {
		m.hits[client]++
	} else {
		m.misses[client]++
	}
	return nil
}

// TestRunBenchHalfHits: every client that wrote reads back its own keys
// and missing ones alternately; a client the scheduler starved during the
// short write phase (this runs beside the whole suite) wrote nothing and
// can only miss.
func TestRunBenchHalfHits(t *testing.T) {
	m := newMemTarget()
	res, err := RunBench(context.Background(), m, LoadConfig{Clients: 3, Duration: 30 * time.Millisecond}, "r1-")
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Writes.ErrorCount(); n != 0 {
		t.Fatalf("write errors %v: keys are not unique", res.Writes.Errors)
	}
	if res.Writes.OK == 0 || res.Reads.OK == 0 {
		t.Fatalf("writes %d, reads %d", res.Writes.OK, res.Reads.OK)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range 3 {
		hits, misses := m.hits[c], m.misses[c]
		switch {
		case m.writes[c] == 0 && hits != 0:
			t.Errorf("client %d wrote nothing and hit %d times", c, hits)
		case m.writes[c] > 0 && (hits-misses < -1 || hits-misses > 1):
			t.Errorf("client %d: hits %d, misses %d: want about half each", c, hits, misses)
		}
	}
}

// TestRunBenchRoundsWriteOwnKeys: a second round against the same target,
// with its own key prefix, writes no key the first one wrote (the target
// refuses a key written twice).
func TestRunBenchRoundsWriteOwnKeys(t *testing.T) {
	m := newMemTarget()
	cfg := LoadConfig{Clients: 3, Duration: 30 * time.Millisecond}
	for _, prefix := range []string{"r1-", "r2-"} {
		res, err := RunBench(context.Background(), m, cfg, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Writes.ErrorCount(); n != 0 || res.Writes.OK == 0 {
			t.Fatalf("round %s: %d writes, errors %v", prefix, res.Writes.OK, res.Writes.Errors)
		}
	}
}
