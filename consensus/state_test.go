package consensus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func TestActiveBan(t *testing.T) {
	h := newHarness(t)
	h.mustApply(
		createTenant("acme"),
		createProject("acme", "shooter"),
		createProject("acme", "racer"),
		createBan("acme", "wide", "", "p1", 0),             // tenant-wide, permanent
		createBan("acme", "shoot", "shooter", "p2", 3600),  // project, 1 h
		createBan("acme", "short", "", "p3", 60),           // tenant-wide, 1 min
		createBan("acme", "long", "", "p3", 7200),          // tenant-wide, 2 h
		createBan("acme", "gone", "", "p4", 0),             // revoked below
		createBan("acme", "racer-p4", "racer", "p4", 3600), // project, 1 h
		revokeBan("acme", "gone"),
	)
	created := testEpoch.Add(4 * time.Second) // leader time of "wide"
	tests := []struct {
		name, tenant, player, project string
		at                            time.Time
		want                          string // ban ID, or "" for none
	}{
		{"tenant-wide applies to tenant check", "acme", "p1", "", created, "wide"},
		{"tenant-wide applies to any project", "acme", "p1", "racer", created, "wide"},
		{"permanent never expires", "acme", "p1", "racer", created.Add(50 * 365 * 24 * time.Hour), "wide"},
		{"project ban applies to its project", "acme", "p2", "shooter", created, "shoot"},
		{"project ban not for other project", "acme", "p2", "racer", created, ""},
		{"project ban not for tenant-wide check", "acme", "p2", "", created, ""},
		{"project ban expires", "acme", "p2", "shooter", created.Add(time.Second + time.Hour), ""},
		{"longest ban wins", "acme", "p3", "", created.Add(10 * time.Second), "long"},
		{"longer ban outlives the short one", "acme", "p3", "", created.Add(time.Hour), "long"},
		{"before the expiry instant", "acme", "p3", "", testEpoch.Add(7*time.Second + 2*time.Hour - 1), "long"},
		{"at the expiry instant", "acme", "p3", "", testEpoch.Add(7*time.Second + 2*time.Hour), ""},
		{"revoked ban ignored", "acme", "p4", "", created, ""},
		{"other project ban still counts", "acme", "p4", "racer", created, "racer-p4"},
		{"unknown player", "acme", "nobody", "", created, ""},
		{"unknown tenant", "nope", "p1", "", created, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := h.state().ActiveBan(tt.tenant, tt.player, tt.project, tt.at)
			if got := b.ID; ok != (tt.want != "") || got != tt.want {
				t.Fatalf("ActiveBan = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createTenant("acme"), createBan("acme", "b1", "", "p1", 60), revokeBan("acme", "b1"),
		createToken("tok", make([]byte, 32)))
	hash := h.state().Hash()

	b, _ := h.state().Ban("acme", "b1")
	*b.ExpiresAt = time.Time{}
	*b.RevokedAt = time.Time{}
	bans, _ := h.state().Bans("acme", BanFilter{})
	*bans[0].ExpiresAt = time.Time{}
	active, _ := h.state().ActiveBan("acme", "p1", "", testEpoch) // revoked: none
	_ = active
	tok, _ := h.state().OperatorToken("tok")
	tok.SecretSHA256[0] = 1

	if h.state().Hash() != hash {
		t.Fatal("mutating a returned value changed the state")
	}
}

func TestListsSortedAndFiltered(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createTenant("zeta"), createTenant("acme"), createTenant("mid"),
		createProject("acme", "b"), createProject("acme", "a"))
	// Bans created out of ID order, two with the same leader time.
	same := testEpoch.Add(time.Hour).UnixNano()
	h.mustApply(
		createBan("acme", "c", "", "p1", 0),
		with(createBan("acme", "z", "", "p2", 0), func(c *cassnetv1.Command) { c.TimeUnixNano = same }),
		with(createBan("acme", "y", "", "p1", 10), func(c *cassnetv1.Command) { c.TimeUnixNano = same }),
	)
	var names []string
	for _, tn := range h.state().Tenants() {
		names = append(names, tn.Name)
	}
	if !slices.Equal(names, []string{"acme", "mid", "zeta"}) {
		t.Errorf("Tenants = %v", names)
	}
	ps, err := h.state().Projects("acme")
	if err != nil || len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" {
		t.Errorf("Projects = %v, %v", ps, err)
	}
	if _, err := h.state().Projects("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Projects(nope) err = %v", err)
	}
	if _, err := h.state().Bans("nope", BanFilter{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Bans(nope) err = %v", err)
	}
	later := testEpoch.Add(2 * time.Hour)
	tests := []struct {
		name string
		f    BanFilter
		want []string
	}{
		{"all by CreatedAt then ID", BanFilter{}, []string{"c", "y", "z"}},
		{"by player", BanFilter{PlayerID: "p1"}, []string{"c", "y"}},
		{"active only", BanFilter{ActiveAt: &later}, []string{"c", "z"}},
		{"player and active", BanFilter{PlayerID: "p1", ActiveAt: &later}, []string{"c"}},
		{"unknown player", BanFilter{PlayerID: "p9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bans, err := h.state().Bans("acme", tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, b := range bans {
				ids = append(ids, b.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("Bans = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestAuditRetentionAndFilter(t *testing.T) {
	h := newHarness(t)
	if got := h.state().Settings().AuditRetention; got != DefaultAuditRetention {
		t.Fatalf("default AuditRetention = %d", got)
	}
	h.mustApply(createTenant("a"), createTenant("b"), setSettings(4))
	for i := range 3 {
		h.mustApply(createProject("a", fmt.Sprintf("pa%d", i)), createProject("b", fmt.Sprintf("pb%d", i)))
	}
	h.apply(createTenant("a")) // rejected: not audited
	all := h.state().Audit("", 0)
	var targets []string
	for _, e := range all {
		targets = append(targets, e.Target)
	}
	if want := []string{"pb2", "pa2", "pb1", "pa1"}; !slices.Equal(targets, want) {
		t.Fatalf("Audit(all) targets = %v, want %v (newest first, 4 kept)", targets, want)
	}
	if all[0].Index <= all[1].Index {
		t.Errorf("audit not newest first: %+v", all)
	}
	if got := h.state().Audit("a", 0); len(got) != 2 || got[0].Target != "pa2" || got[1].Target != "pa1" {
		t.Errorf("Audit(a) = %+v", got)
	}
	if got := h.state().Audit("b", 1); len(got) != 1 || got[0].Target != "pb2" {
		t.Errorf("Audit(b, 1) = %+v", got)
	}
	if got := h.state().Audit("nope", 0); len(got) != 0 {
		t.Errorf("Audit(nope) = %+v", got)
	}
	// Raising the retention keeps what is left; lowering trims at once.
	h.mustApply(setSettings(100), setSettings(1))
	if got := h.state().Audit("", 0); len(got) != 1 || got[0].Action != "settings.set" {
		t.Errorf("after retention 1: %+v", got)
	}
}

func TestWaitIndexAndChange(t *testing.T) {
	h := newHarness(t)
	s := h.state()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)

	if err := s.WaitIndex(ctx, 0); err != nil {
		t.Fatalf("WaitIndex(0) = %v", err)
	}
	done := make(chan error, 2)
	go func() { done <- s.WaitIndex(ctx, 2) }()
	go func() { done <- s.WaitChange(ctx, 1) }()
	h.apply(createTenant("acme"))
	select {
	case err := <-done:
		t.Fatalf("a waiter returned early at index 1: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	h.apply(createTenant("acme")) // rejected, but still wakes waiters
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}

	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	t.Cleanup(cancelShort)
	if err := s.WaitChange(short, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitChange timeout = %v", err)
	}
	if err := s.WaitIndex(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIndex timeout = %v", err)
	}
	if err := s.WaitChange(short, 1); err != nil {
		t.Fatalf("WaitChange already satisfied = %v", err)
	}
}

// manyBans returns a harness holding 100k bans over 10k players in tenant
// "acme": every tenth ban is project-scoped, a third are permanent.
func manyBans(b *testing.B) *harness {
	b.Helper()
	const players, bans = 10_000, 100_000
	h := newHarness(b)
	h.mustApply(createTenant("acme"), createProject("acme", "shooter"))
	for i := range bans {
		project := ""
		if i%10 == 0 {
			project = "shooter"
		}
		h.mustApply(createBan("acme", fmt.Sprintf("ban-%d", i), project, fmt.Sprintf("player-%d", i%players), int64(i%3)*3600))
	}
	return h
}

// BenchmarkActiveBan measures the ban-check hot path over manyBans; half
// of the lookups are for players with no ban.
func BenchmarkActiveBan(b *testing.B) {
	h := manyBans(b)
	ids := make([]string, 20_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("player-%d", i)
	}
	now := h.now
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		h.state().ActiveBan("acme", ids[i%len(ids)], "racer", now)
		i++
	}
}

// BenchmarkHash measures State.Hash over manyBans after every change (so
// never from its memo), and BenchmarkSnapshot the copy that both Hash and
// FSM.Snapshot take under the read lock, which is what stalls Apply and
// ban checks.
func BenchmarkHash(b *testing.B) {
	h := manyBans(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.state().mu.Lock()
		h.state().gen++
		h.state().mu.Unlock()
		h.state().Hash()
	}
}

func BenchmarkSnapshot(b *testing.B) {
	h := manyBans(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		snap, err := h.fsm.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		snap.Release()
	}
}

func TestHashMemo(t *testing.T) {
	h := newHarness(t)
	empty := h.state().Hash()
	h.mustApply(createTenant("acme"))
	changed := h.state().Hash()
	if changed == empty || h.state().Hash() != changed {
		t.Fatal("Hash did not follow an applied change")
	}
	h.apply(createTenant("acme")) // rejected
	if h.state().Hash() != changed {
		t.Fatal("rejected command changed the hash")
	}
	g := newHarness(t)
	g.mustApply(createTenant("other"))
	g.state().Hash()
	restore(t, g.fsm, persist(t, h.fsm))
	if g.state().Hash() != changed {
		t.Fatal("Hash answered from its memo after Restore")
	}
}
