package api

import (
	"net/http"
	"testing"
	"time"
)

// TestHistoryRing: rates come from counter deltas, the ring keeps only
// the window, and since returns the newer samples in order.
func TestHistoryRing(t *testing.T) {
	h := newHistory(20 * time.Minute) // a ring of 3
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		h.add(t0.Add(time.Duration(i)*10*time.Second), map[string]float64{
			famRequests: float64(100 * i), famPlayers: float64(i), famCPU: float64(i) * 5,
		})
	}
	got := h.since(0)
	if len(got) != 3 {
		t.Fatalf("%d samples, want 3 (the ring)", len(got))
	}
	for i, s := range got {
		if s.T != 1000+int64(i+2)*10 || s.Players != float64(i+2) {
			t.Errorf("sample %d: %+v", i, s)
		}
		if s.RequestsPerSec != 10 || s.CPUCores != 0.5 {
			t.Errorf("sample %d rates: %+v", i, s)
		}
		if s.AllocsPerSec != nil {
			t.Errorf("allocations reported without the metric")
		}
	}
	if newer := h.since(1030); len(newer) != 1 || newer[0].T != 1040 {
		t.Fatalf("since(1030) = %+v", newer)
	}
	if first := newHistory(time.Minute); len(first.since(0)) != 0 {
		t.Fatal("an empty history has samples")
	}
}

// TestMetricsHistoryRoute: the route answers this node's samples and
// refuses a bad since.
func TestMetricsHistoryRoute(t *testing.T) {
	h := newHarness(t)
	h.mustDo("GET", "/v1/health", "", http.StatusOK)
	h.srv.sampleHistory()
	h.clock.Advance(5 * time.Second)
	h.mustDo("GET", "/v1/health", "", http.StatusOK)
	h.srv.sampleHistory()
	rec := h.mustDo("GET", "/v1/metrics/history?scope=local", "", http.StatusOK)
	got := decodeBody[MetricsHistory](t, rec)
	if len(got.Nodes) != 1 || len(got.Nodes[0].Samples) != 2 || got.IntervalSeconds != 5 {
		t.Fatalf("history %+v", got)
	}
	if s := got.Nodes[0].Samples[1]; s.RequestsPerSec <= 0 || s.Goroutines <= 0 {
		t.Fatalf("second sample has no request rate or goroutines: %+v", s)
	}
	wantError(t, h.do("GET", "/v1/metrics/history?since=x", ""), http.StatusBadRequest, "invalid_argument")
}
