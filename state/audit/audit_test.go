package audit_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// newHarness returns a harness over tenancy (whose commands are audited),
// settings (the retention) and the audit log.
func newHarness(t testing.TB) (*harness, *audit.Store, *settings.Store) {
	t.Helper()
	ten, set := tenancy.New(), settings.New()
	a := audit.New(set)
	return newHarnessOver(t, []consensus.Module{ten, set, a}), a, set
}

func TestAuditRetentionAndFilter(t *testing.T) {
	h, a, set := newHarness(t)
	if got := set.Get().AuditRetention; got != settings.DefaultAuditRetention {
		t.Fatalf("default AuditRetention = %d", got)
	}
	h.mustApply(createTenant("a"), createTenant("b"), setSettings(4))
	for i := range 3 {
		h.mustApply(createProject("a", fmt.Sprintf("pa%d", i)), createProject("b", fmt.Sprintf("pb%d", i)))
	}
	h.apply(createTenant("a")) // rejected: not audited
	all := a.Entries("", 0)
	var targets []string
	for _, e := range all {
		targets = append(targets, e.Target)
	}
	if want := []string{"pb2", "pa2", "pb1", "pa1"}; !slices.Equal(targets, want) {
		t.Fatalf("Entries(all) targets = %v, want %v (newest first, 4 kept)", targets, want)
	}
	if all[0].Index <= all[1].Index {
		t.Errorf("audit not newest first: %+v", all)
	}
	if got := a.Entries("a", 0); len(got) != 2 || got[0].Target != "pa2" || got[1].Target != "pa1" {
		t.Errorf("Entries(a) = %+v", got)
	}
	if got := a.Entries("b", 1); len(got) != 1 || got[0].Target != "pb2" {
		t.Errorf("Entries(b, 1) = %+v", got)
	}
	if got := a.Entries("nope", 0); len(got) != 0 {
		t.Errorf("Entries(nope) = %+v", got)
	}
	// Raising the retention keeps what is left; lowering trims at once.
	h.mustApply(setSettings(100), setSettings(1))
	if got := a.Entries("", 0); len(got) != 1 || got[0].Action != "settings.set" {
		t.Errorf("after retention 1: %+v", got)
	}
	// The trimmed log keeps working, and a restored one trims the same.
	h.mustApply(createTenant("c"), createTenant("d"))
	if got := a.Entries("", 0); len(got) != 1 || got[0].Target != "d" {
		t.Errorf("after more entries at retention 1: %+v", got)
	}
	g, ga, _ := newHarness(t)
	restore(t, g.fsm, persist(t, h.fsm))
	g.index, g.now = h.index, h.now
	g.mustApply(createTenant("e"))
	h.mustApply(createTenant("e"))
	if got := ga.Entries("", 0); len(got) != 1 || got[0].Target != "e" || g.fsm.Hash() != h.fsm.Hash() {
		t.Errorf("restored log: %+v", got)
	}
}

// TestRestoreTrimsToRetention restores more entries than the snapshot's
// retention allows: the oldest are dropped, as Apply would have.
func TestRestoreTrimsToRetention(t *testing.T) {
	h, a, _ := newHarness(t)
	data := `{"version":2,"index":9,"settings":{"audit_retention":2,"max_session_ttl_seconds":3600},` +
		`"audit":[{"index":1,"action":"x","target":"1"},{"index":2,"action":"x","target":"2"},{"index":3,"action":"x","target":"3"}]}`
	restore(t, h.fsm, []byte(data))
	got := a.Entries("", 0)
	if len(got) != 2 || got[0].Target != "3" || got[1].Target != "2" {
		t.Fatalf("Entries = %+v", got)
	}
}

func TestHashCoversEveryAuditField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _, _ := newHarness(t)
		h.mustApply(createTenant("acme"), createProject("acme", "g"))
		return h
	}
	hashCoversFields(t, setup, func(h *harness, fn func(*audit.Entry)) {
		audit.EditNewest(h.modules[2].(*audit.Store), fn)
	})
}
