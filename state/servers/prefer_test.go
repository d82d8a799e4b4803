package servers_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

func preferred(only bool, ids ...string) *cassnetv1.Allocate {
	op := alloc()
	op.PreferredServerIds, op.PreferredOnly = ids, only
	return op
}

// TestPreferredHonoured: Apply picks the first preferred server that is
// eligible, skipping unknown, ineligible and drained ones, over the
// default choice.
func TestPreferredHonoured(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n2"}),
		register(gs{id: "c", node: "n3"}), register(gs{id: "d", node: "n4", state: servers.StateStarting}),
		register(gs{id: "e", node: "n5"}), schedulable("n5", false))
	// Default would pick a (node n1 first); the preference says c.
	if a := h.mustAllocate(preferred(false, "nope", "d", "e", "c", "b")); a.ServerID != "c" {
		t.Fatalf("allocated %s, want the first eligible preferred server c", a.ServerID)
	}
	// c is now allocated: the same preference falls on b.
	if a := h.mustAllocate(preferred(true, "c", "b")); a.ServerID != "b" {
		t.Fatalf("allocated %s, want b", a.ServerID)
	}
}

// TestStalePreference: a preference whose servers were taken in the
// meantime falls back to the default choice, or fails with no_capacity
// when preferred_only is set; a server is never allocated twice.
func TestStalePreference(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n2"}))
	if a := h.mustAllocate(alloc()); a.ServerID != "a" {
		t.Fatalf("default allocated %s, want a", a.ServerID)
	}
	if _, err := h.allocate(preferred(true, "a")); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("only-preferred with the preferred server taken: %v, want no_capacity", err)
	}
	if s, _ := h.srv().Server("acme", "b"); s.State != servers.StateReady {
		t.Fatalf("b is %s after a refused allocation", s.State)
	}
	if a := h.mustAllocate(preferred(false, "a")); a.ServerID != "b" {
		t.Fatalf("stale advisory preference allocated %s, want the default b", a.ServerID)
	}
}

// TestPreferredRespectsSelectors: a preferred server outside the
// request's project or selectors is never picked.
func TestPreferredRespectsSelectors(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createProject("acme", "other"),
		register(gs{id: "a", node: "n1", labels: map[string]string{"mode": "ctf"}}),
		register(gs{id: "b", node: "n2", labels: map[string]string{"mode": "dm"}}),
		register(gs{id: "x", node: "n3", project: "other", labels: map[string]string{"mode": "dm"}}))
	op := preferred(true, "x", "b")
	op.Project = "arena"
	op.Selectors = []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "ctf"})}
	if _, err := h.allocate(op); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("only-preferred, none eligible (x is another project's, b fails the selector): %v", err)
	}
	op.PreferredOnly = false
	if a := h.mustAllocate(op); a.ServerID != "a" {
		t.Fatalf("allocated %s, want the default a", a.ServerID)
	}
}

// TestCandidates: the candidates a node offers the hook are the servers
// Apply could pick, in the default order, capped.
func TestCandidates(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n2"}), register(gs{id: "b", node: "n1"}),
		register(gs{id: "c", node: "n3", state: servers.StateStarting}), register(gs{id: "d", node: "n4"}),
		schedulable("n4", false))
	op := alloc()
	var ids []string
	for _, c := range h.srv().Candidates(op, 64) {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(ids, []string{"b", "a"}) {
		t.Fatalf("candidates %v, want [b a]", ids)
	}
	if got := h.srv().Candidates(op, 1); len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("capped candidates %v", got)
	}
	// The first candidate is the default choice.
	if a := h.mustAllocate(op); a.ServerID != "b" {
		t.Fatalf("default allocated %s, want b", a.ServerID)
	}
}

func TestValidatePreferred(t *testing.T) {
	many := make([]string, servers.MaxPreferred+1)
	for i := range many {
		many[i] = "s" + itoa(i)
	}
	for _, tc := range []struct {
		op   *cassnetv1.Allocate
		want string
	}{
		{preferred(false, "a", "b"), ""},
		{preferred(true, "a"), ""},
		{preferred(true), "preferred_only"},
		{preferred(false, "a", "a"), "repeated"},
		{preferred(false, "bad id!"), "preferred_server_ids"},
		{preferred(false, many...), "at most"},
	} {
		err := servers.ValidateAllocate(tc.op)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ValidateAllocate(%v) = %v, want %q", tc.op.GetPreferredServerIds(), err, tc.want)
		}
	}
}

// TestVersion3BehaviourWaits: at state version 2 (a cluster still running
// servers of the previous release, which does not know these fields) a
// preference is ignored and marking servers lost is refused, exactly as
// that release would apply them, so replicas never diverge.
func TestVersion3BehaviourWaits(t *testing.T) {
	h := newBare(t)
	h.mustApply(setStateVersion(2), createTenant("acme"), createProject("acme", "arena"),
		register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n2"}))
	if a := h.mustAllocate(preferred(true, "b")); a.ServerID != "a" {
		t.Fatalf("at state version 2 allocated %s, want the default a (preference ignored)", a.ServerID)
	}
	if err := h.apply(markNode("n2", servers.StateLost)); !errors.Is(err, consensus.ErrStateVersion) {
		t.Fatalf("mark lost at state version 2: %v, want state_version", err)
	}
	h.mustApply(markNode("n2", servers.StateUnhealthy), setStateVersion(3), markNode("n2", servers.StateLost))
	if s, _ := h.srv().Server("acme", "b"); s.State != servers.StateLost {
		t.Fatalf("b is %s at state version 3, want lost", s.State)
	}
}
