package fleettest

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)

func obs(sec int, servers map[string]string) Observation {
	return Observation{At: t0.Add(time.Duration(sec) * time.Second), Servers: servers}
}

// cleanHistory: a buffer of 2; a1 is allocated, its match ends, a3
// replaces it; a2 is retired while ready (SIGTERM, not in a match).
func cleanHistory() History {
	return History{Buffer: 2, Observations: []Observation{
		obs(0, map[string]string{"a1": "ready", "a2": "ready"}),
		obs(1, map[string]string{"a1": "allocated", "a2": "ready", "a3": "starting"}),
		obs(2, map[string]string{"a1": "allocated", "a2": "ready", "a3": "ready"}),
		obs(4, map[string]string{"a2": "ready", "a3": "ready"}),
		obs(5, map[string]string{"a3": "ready", "a4": "ready"}),
	}, Marks: []Mark{{Server: "a1", Why: "match_over", InMatch: true, At: t0.Add(3 * time.Second)},
		{Server: "a2", Why: "sigterm", InMatch: false, At: t0.Add(5 * time.Second)}}}
}

func TestCheckPassesCleanHistory(t *testing.T) {
	if bad := Check(cleanHistory()); len(bad) > 0 {
		t.Fatalf("clean history fails: %v", bad)
	}
}

// TestCheckFailsDoctoredHistories: each doctored history breaks one
// property, and the checker names it.
func TestCheckFailsDoctoredHistories(t *testing.T) {
	cases := map[string]struct {
		doctor func(h *History)
		want   string
	}{
		"buffer not restored": {func(h *History) {
			h.Observations[len(h.Observations)-1].Servers = map[string]string{"a3": "ready", "a4": "starting"}
		}, "buffer not restored"},
		"allocated server killed": {func(h *History) {
			h.Marks[0].Why = "sigterm"
		}, "stopped by its node during its match"},
		"server id used twice": {func(h *History) {
			h.Observations[len(h.Observations)-1].Servers["a1"] = "ready"
		}, "used twice"},
		"no observations": {func(h *History) { h.Observations = nil }, "no observations"},
	}
	for name, c := range cases {
		h := cleanHistory()
		c.doctor(&h)
		bad := Check(h)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, "\n"), c.want) {
			t.Errorf("%s: violations %v, want one saying %q", name, bad, c.want)
		}
	}
}
