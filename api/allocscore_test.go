package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// scoreHarness is allocHarness with fake hooks whose score_allocation
// answer is score (nil: allow unchanged).
func scoreHarness(t *testing.T, score func(req scoreRequest) (any, error)) (*harness, *[]scoreRequest) {
	t.Helper()
	var seen []scoreRequest
	fh := &fakeHooks{before: func(hook string, _ hooks.Caller, req []byte) ([]byte, error) {
		if hook != hooks.ScoreAllocation {
			return req, nil
		}
		var sr scoreRequest
		if err := json.Unmarshal(req, &sr); err != nil {
			t.Errorf("score_allocation request %s: %v", req, err)
		}
		seen = append(seen, sr)
		sr.Candidates = slices.Clone(sr.Candidates)
		out, err := score(sr)
		if err != nil || out == nil {
			return req, err
		}
		if b, ok := out.([]byte); ok {
			return b, nil
		}
		return json.Marshal(out)
	}}
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 64 << 10; c.Hooks = fh })
	h.createTenant("acme")
	h.createProject("acme", "arena")
	h.createProject("acme", "lobby")
	for _, g := range []struct{ id, project, fleet, node, mode string }{
		{"gs-1", "arena", "", "a", "ctf"},
		{"gs-2", "arena", "", "b", "ctf"},
		{"gs-3", "lobby", "blue", "a", "dm"},
	} {
		h.replicate(registerServerCmd("acme", g.project, g.fleet, g.id, g.node, map[string]string{"mode": g.mode}))
	}
	return h, &seen
}

func reversed(req scoreRequest) (any, error) {
	slices.Reverse(req.Candidates)
	return req, nil
}

// TestScoreAllocationPreference: the hook sees the candidates in the
// default order and its order wins; a filter that leaves nothing is a
// 409 no_capacity; unknown ids are ignored.
func TestScoreAllocationPreference(t *testing.T) {
	h, seen := scoreHarness(t, reversed)
	a := decodeBody[allocationBody](t, h.mustDo("POST", allocPath, `{"project_id":"arena","selectors":[{"labels":{"mode":"ctf"}}]}`, http.StatusCreated))
	if a.ServerID != "gs-2" {
		t.Fatalf("allocated %s, want gs-2 (the scorer reversed [gs-1 gs-2])", a.ServerID)
	}
	if len(*seen) != 1 {
		t.Fatalf("%d score calls", len(*seen))
	}
	var ids []string
	for _, c := range (*seen)[0].Candidates {
		ids = append(ids, c.ID)
		if c.Capacity != 10 || c.Labels["mode"] != "ctf" || c.Node == "" {
			t.Fatalf("candidate %+v", c)
		}
	}
	if !slices.Equal(ids, []string{"gs-1", "gs-2"}) || (*seen)[0].Allocation.ProjectID != "arena" {
		t.Fatalf("score request %+v", (*seen)[0])
	}

	// A filter that drops every candidate, with only: no_capacity, and
	// nothing is allocated.
	h2, _ := scoreHarness(t, func(req scoreRequest) (any, error) {
		return []byte(`{"candidates":[{"id":"gs-3"},{"id":"ghost"}],"only":true}`), nil
	})
	wantError(t, h2.do("POST", allocPath, `{"project_id":"arena"}`), http.StatusConflict, "no_capacity")
	if s, _ := h2.store.state.Servers.Server("acme", "gs-1"); s.State != servers.StateReady {
		t.Fatalf("gs-1 is %s after a filtered-out allocation", s.State)
	}
	// Without only, the same answer is ignored: the default choice.
	h3, _ := scoreHarness(t, func(req scoreRequest) (any, error) {
		return []byte(`{"candidates":[{"id":"ghost"}]}`), nil
	})
	if a := decodeBody[allocationBody](t, h3.mustDo("POST", allocPath, `{"project_id":"arena"}`, http.StatusCreated)); a.ServerID != "gs-1" {
		t.Fatalf("allocated %s, want the default gs-1", a.ServerID)
	}
}

// TestScoreAllocationFailures: a rejection is the plugin's 4xx, a
// failure of a fail-closed plugin is a 503, an unreadable answer a 502;
// with no candidates the hook is not called.
func TestScoreAllocationFailures(t *testing.T) {
	h, _ := scoreHarness(t, func(scoreRequest) (any, error) {
		return nil, &hooks.Rejection{Plugin: "p", Status: 429, Message: "slow down"}
	})
	wantError(t, h.do("POST", allocPath, `{}`), 429, codeRejectedByPlugin)
	h, _ = scoreHarness(t, func(scoreRequest) (any, error) { return nil, errors.New("trap") })
	wantError(t, h.do("POST", allocPath, `{}`), http.StatusServiceUnavailable, codePluginFailed)
	h, _ = scoreHarness(t, func(scoreRequest) (any, error) { return []byte(`[1,2`), nil })
	wantError(t, h.do("POST", allocPath, `{}`), http.StatusBadGateway, codePluginFailed)
	h, seen := scoreHarness(t, reversed)
	rec := h.do("POST", allocPath, `{"selectors":[{"labels":{"mode":"none"}}]}`)
	if rec.Code != http.StatusConflict || len(*seen) != 0 {
		t.Fatalf("no candidates: %d %s, %d score calls", rec.Code, rec.Body, len(*seen))
	}
	if !strings.Contains(rec.Body.String(), "no_capacity") {
		t.Fatalf("body %s", rec.Body)
	}
}

// FuzzScoreAnswer: any answer yields only offered ids, each once, at
// most MaxPreferred, and a command that validates.
func FuzzScoreAnswer(f *testing.F) {
	f.Add([]byte(`{"candidates":[{"id":"gs-2"},{"id":"gs-1"},{"id":"gs-2"},{"id":"x"}],"only":true}`))
	f.Add([]byte(`{"candidates":null}`))
	f.Add([]byte(`[`))
	offered := []servers.Candidate{{ID: "gs-1"}, {ID: "gs-2"}, {ID: "gs-3"}}
	f.Fuzz(func(t *testing.T, out []byte) {
		ids, only, err := preferredIDs(offered, out)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] || !slices.ContainsFunc(offered, func(c servers.Candidate) bool { return c.ID == id }) {
				t.Fatalf("ids %v from %s", ids, out)
			}
			seen[id] = true
		}
		if len(ids) > 0 {
			op := &cassnetv1.Allocate{Tenant: "acme", AllocationId: "alloc_1", PreferredServerIds: ids, PreferredOnly: only}
			if err := servers.ValidateAllocate(op); err != nil {
				t.Fatalf("ids %v: %v", ids, err)
			}
		}
	})
}
