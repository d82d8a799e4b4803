package bans_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// newHarness returns a harness over the modules bans needs: tenancy (for
// tenants and projects) and settings (for the ban retention).
func newHarness(t testing.TB) (*harness, *bans.Store) {
	t.Helper()
	ten, set := tenancy.New(), settings.New()
	b := bans.New(ten, set)
	return newHarnessOver(t, []consensus.Module{ten, b, set}), b
}

// applyAt applies cmd at leader time at, and moves the harness clock there.
func applyAt(h *harness, at time.Time, cmd *cassnetv1.Command) *consensus.ApplyResult {
	h.t.Helper()
	cmd.TimeUnixNano = at.UnixNano()
	res := h.apply(cmd)
	h.now = at
	return res
}

func TestActiveBan(t *testing.T) {
	h, s := newHarness(t)
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
			b, ok := s.ActiveBan(tt.tenant, tt.player, tt.project, tt.at)
			if got := b.ID; ok != (tt.want != "") || got != tt.want {
				t.Fatalf("ActiveBan = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(createTenant("acme"), createBan("acme", "b1", "", "p1", 60), revokeBan("acme", "b1"),
		createBan("acme", "b2", "", "p2", 60))
	hash := h.freshHash()

	b, _ := s.Ban("acme", "b1")
	*b.ExpiresAt = time.Time{}
	*b.RevokedAt = time.Time{}
	list, _ := s.Bans("acme", bans.Filter{})
	*list[0].ExpiresAt = time.Time{}
	list[1].Reason = "changed"
	active, _ := s.ActiveBan("acme", "p2", "", testEpoch)
	*active.ExpiresAt = time.Time{}

	if h.freshHash() != hash {
		t.Fatal("mutating a returned value changed the state")
	}
	if a, ok := s.ActiveBan("acme", "p2", "", testEpoch); !ok || a.ExpiresAt.IsZero() {
		t.Fatal("mutating a returned value changed the ban check")
	}
}

func TestBansSortedAndFiltered(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(createTenant("acme"))
	// Bans created out of ID order, two with the same leader time.
	same := testEpoch.Add(time.Hour).UnixNano()
	h.mustApply(
		createBan("acme", "c", "", "p1", 0),
		with(createBan("acme", "z", "", "p2", 0), func(c *cassnetv1.Command) { c.TimeUnixNano = same }),
		with(createBan("acme", "y", "", "p1", 10), func(c *cassnetv1.Command) { c.TimeUnixNano = same }),
	)
	if _, err := s.Bans("nope", bans.Filter{}); !errors.Is(err, consensus.ErrNotFound) {
		t.Errorf("Bans(nope) err = %v", err)
	}
	later := testEpoch.Add(2 * time.Hour)
	tests := []struct {
		name string
		f    bans.Filter
		want []string
	}{
		{"all by CreatedAt then ID", bans.Filter{}, []string{"c", "y", "z"}},
		{"by player", bans.Filter{PlayerID: "p1"}, []string{"c", "y"}},
		{"active only", bans.Filter{ActiveAt: &later}, []string{"c", "z"}},
		{"player and active", bans.Filter{PlayerID: "p1", ActiveAt: &later}, []string{"c"}},
		{"unknown player", bans.Filter{PlayerID: "p9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := s.Bans("acme", tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, b := range list {
				ids = append(ids, b.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("Bans = %v, want %v", ids, tt.want)
			}
		})
	}
}

// checkValid fails unless err is nil when ok, or wraps ErrInvalid and
// names field when not.
func checkValid(t *testing.T, err error, ok bool, field string) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case !ok && !errors.Is(err, consensus.ErrInvalid):
		t.Fatalf("err = %v, want ErrInvalid", err)
	case !ok && !strings.Contains(err.Error(), field):
		t.Fatalf("error %q does not name the field %q", err, field)
	}
}

func TestValidateReason(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"empty", "", true},
		{"unicode", "triche / 作弊 🎮", true},
		{"max bytes", strings.Repeat("é", 256), true},
		{"too long", strings.Repeat("a", 513), false},
		{"newline", "a\nb", false},
		{"escape", "\x1b[2J", false},
		{"C1 control", "a\u0085b", false},
		{"invalid utf-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, bans.ValidateReason(tt.in), tt.ok, "reason")
		})
	}
}

func TestNewID(t *testing.T) {
	format := regexp.MustCompile(`^ban_[0-9a-f]{16}$`)
	seen := make(map[string]bool)
	for range 100 {
		id, err := bans.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !format.MatchString(id) {
			t.Fatalf("NewID = %q", id)
		}
		if err := bans.ValidateID(id); err != nil {
			t.Fatalf("ValidateID(%q) = %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
	checkValid(t, bans.ValidateID("Ban_1"), false, "id")
	checkValid(t, bans.ValidateID(""), false, "id")
}

func TestHashCoversEveryBanField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _ := newHarness(t)
		baseState(h)
		return h
	}
	// b2 is project-scoped, timed and revoked: no field is empty.
	hashCoversFields(t, setup, func(h *harness, fn func(*bans.Ban)) {
		bans.EditBan(h.modules[1].(*bans.Store), "acme", "b2", fn)
	})
}

const day = 24 * time.Hour

// TestBanPruning checks that a ban that ended (expired or was revoked)
// more than the ban retention before the leader time is deleted by the
// next accepted command, from state version 2 on only.
func TestBanPruning(t *testing.T) {
	tests := []struct {
		name      string
		raise     bool          // apply SetStateVersion{2} first
		retention uint32        // SetSettings ban_retention_seconds; 0 = default (30 days)
		duration  int64         // of the ban, in seconds; 0 = permanent
		revokeAt  time.Duration // after its creation; 0 = never
		probe     time.Duration // leader time of a later command, after the ban ended (its creation if permanent)
		pruned    bool
	}{
		{name: "version 1 keeps an expired ban", duration: 60, probe: 365 * day},
		{name: "version 1 keeps a revoked ban", revokeAt: time.Hour, probe: 365 * day},
		{name: "expired within the retention", raise: true, duration: 60, probe: 30*day - time.Second},
		{name: "expired beyond the retention", raise: true, duration: 60, probe: 30*day + time.Second, pruned: true},
		// Exactly the retention after the end counts as beyond it, as every
		// expiry in the state does ("at or before").
		{name: "expired exactly the retention ago", raise: true, duration: 60, probe: 30 * day, pruned: true},
		{name: "expired a nanosecond less than the retention ago", raise: true, duration: 60, probe: 30*day - time.Nanosecond},
		{name: "revoked within the retention", raise: true, revokeAt: time.Hour, probe: 30*day - time.Second},
		{name: "revoked beyond the retention", raise: true, revokeAt: time.Hour, probe: 30*day + time.Second, pruned: true},
		{name: "revoked before it expired counts from the revocation", raise: true, duration: 90 * 24 * 3600, revokeAt: time.Hour, probe: 30*day + time.Second, pruned: true},
		{name: "revoked after it expired counts from the expiry", raise: true, duration: 60, revokeAt: 20 * day, probe: 30*day + time.Second, pruned: true},
		{name: "permanent active ban is kept", raise: true, probe: 100 * 365 * day},
		{name: "timed active ban is kept", raise: true, duration: 365 * 24 * 3600, probe: -65 * day},
		{name: "shorter retention", raise: true, retention: 3600, duration: 60, probe: time.Hour + time.Second, pruned: true},
		{name: "shorter retention not yet", raise: true, retention: 3600, duration: 60, probe: time.Hour - time.Second},
		{name: "longer retention", raise: true, retention: 90 * 24 * 3600, duration: 60, probe: 60 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := newHarness(t)
			if tt.raise {
				h.mustApply(setStateVersion(consensus.StateVersionDomains))
			}
			if tt.retention != 0 {
				h.mustApply(setBanRetention(tt.retention))
			}
			h.mustApply(createTenant("acme"), createBan("acme", "keep", "", "p1", 0))
			res := h.apply(createBan("acme", "b", "", "p1", tt.duration))
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			created := h.now
			end := created.Add(time.Duration(tt.duration) * time.Second)
			if tt.revokeAt != 0 {
				if res := applyAt(h, created.Add(tt.revokeAt), revokeBan("acme", "b")); res.Err != nil {
					t.Fatal(res.Err)
				}
				if tt.duration == 0 || created.Add(tt.revokeAt).Before(end) {
					end = created.Add(tt.revokeAt)
				}
			}
			if _, ok := s.Ban("acme", "b"); !ok {
				t.Fatal("ban pruned before the probe")
			}
			if res := applyAt(h, end.Add(tt.probe), createTenant("tick")); res.Err != nil {
				t.Fatal(res.Err)
			}
			_, kept := s.Ban("acme", "b")
			if kept == tt.pruned {
				t.Fatalf("ban kept = %v, want pruned = %v", kept, tt.pruned)
			}
			if _, ok := s.Ban("acme", "keep"); !ok {
				t.Fatal("the permanent ban was pruned")
			}
			list, _ := s.Bans("acme", bans.Filter{PlayerID: "p1"})
			if len(list) != map[bool]int{true: 1, false: 2}[tt.pruned] {
				t.Fatalf("Bans(p1) = %+v", list)
			}
			if b, ok := s.ActiveBan("acme", "p1", "", h.now); !ok || b.ID != "keep" {
				t.Fatalf("ActiveBan = %+v, %v", b, ok)
			}
		})
	}
}

func TestBanRetentionNeedsStateVersion2(t *testing.T) {
	h, _ := newHarness(t)
	h.mustApply(createTenant("acme"))
	before := h.freshHash()
	res := h.apply(setBanRetention(3600))
	if !errors.Is(res.Err, consensus.ErrStateVersion) || !strings.Contains(res.Err.Error(), "state version") {
		t.Fatalf("SetSettings ban_retention at state version 1: %v, want a conflict naming the state version", res.Err)
	}
	if h.freshHash() != before {
		t.Fatal("the refused SetSettings changed the state")
	}
	// The other settings still apply at version 1, and the ban retention
	// from version 2 on.
	h.mustApply(setSettings(10))
	h.mustApply(setStateVersion(consensus.StateVersionDomains), setBanRetention(3600))
}

// TestBanPruningOnlyAfterAcceptedCommands checks that a rejected command
// prunes nothing, and that the pruned ban leaves no trace in the index.
func TestBanPruningOnlyAfterAcceptedCommands(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(setStateVersion(consensus.StateVersionDomains), createTenant("acme"),
		createBan("acme", "b", "", "p1", 60))
	late := h.now.Add(60 * day)
	if res := applyAt(h, late, createTenant("acme")); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatal(res.Err)
	}
	if _, ok := s.Ban("acme", "b"); !ok {
		t.Fatal("a rejected command pruned")
	}
	if n := bans.EndedLen(s); n != 1 {
		t.Fatalf("ended index holds %d entries, want 1", n)
	}
	h.mustApply(createTenant("tick"))
	if _, ok := s.Ban("acme", "b"); ok {
		t.Fatal("an accepted command did not prune")
	}
	if n := bans.EndedLen(s); n != 0 {
		t.Fatalf("ended index holds %d entries after pruning, want 0", n)
	}
	// The ID is free again.
	h.mustApply(createBan("acme", "b", "", "p1", 0))
}

// TestBanPruningSameOnEveryNode applies a log with many ending bans on two
// nodes, one of them restored from a snapshot half way: the ended index is
// derived, so both must prune the same bans at the same entries.
func TestBanPruningSameOnEveryNode(t *testing.T) {
	a, _ := newHarness(t)
	b, _ := newHarness(t)
	log := []*cassnetv1.Command{setStateVersion(consensus.StateVersionDomains), setBanRetention(3600), createTenant("acme"), createProject("acme", "g")}
	for i := range 300 {
		project := []string{"", "g"}[i%2]
		log = append(log, createBan("acme", fmt.Sprintf("b%d", i), project, fmt.Sprintf("p%d", i%7), int64(i%5)*600))
		if i%3 == 0 {
			log = append(log, revokeBan("acme", fmt.Sprintf("b%d", i/2)))
		}
	}
	for i, c := range log {
		c.TimeUnixNano = testEpoch.Add(time.Duration(i) * 97 * time.Second).UnixNano()
		ra := a.apply(c)
		rb := b.apply(c)
		if (ra.Err == nil) != (rb.Err == nil) {
			t.Fatalf("entry %d: %v vs %v", i, ra.Err, rb.Err)
		}
		if i == len(log)/2 {
			g, _ := newHarness(t)
			restore(t, g.fsm, persist(t, b.fsm))
			g.index = b.index
			b = g
		}
	}
	if a.fsm.Hash() != b.fsm.Hash() {
		t.Fatal("a restored node prunes differently")
	}
	if a.fsm.Counts()["bans"]["bans"] >= 300 {
		t.Fatalf("nothing was pruned: %v", a.fsm.Counts()["bans"])
	}
}

// BenchmarkApplyCreateBan measures Apply of CreateBan commands.
func BenchmarkApplyCreateBan(b *testing.B) {
	h, _ := newHarness(b)
	h.mustApply(createTenant("acme"))
	cmds := make([]*cassnetv1.Command, b.N)
	for i := range cmds {
		cmds[i] = createBan("acme", fmt.Sprintf("ban-%d", i), "", fmt.Sprintf("player-%d", i%10000), 3600)
		cmds[i].TimeUnixNano = testEpoch.Add(time.Duration(i) * time.Millisecond).UnixNano()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range cmds {
		if res := h.apply(c); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// manyBans returns a harness holding 100k bans over 10k players in tenant
// "acme": every tenth ban is project-scoped, a third are permanent.
func manyBans(b *testing.B) (*harness, *bans.Store) {
	b.Helper()
	const players, n = 10_000, 100_000
	h, s := newHarness(b)
	h.mustApply(createTenant("acme"), createProject("acme", "shooter"))
	for i := range n {
		project := ""
		if i%10 == 0 {
			project = "shooter"
		}
		h.mustApply(createBan("acme", fmt.Sprintf("ban-%d", i), project, fmt.Sprintf("player-%d", i%players), int64(i%3)*3600))
	}
	return h, s
}

// BenchmarkActiveBan measures the ban-check hot path over manyBans; half
// of the lookups are for players with no ban.
func BenchmarkActiveBan(b *testing.B) {
	h, s := manyBans(b)
	ids := make([]string, 20_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("player-%d", i)
	}
	now := h.now
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		s.ActiveBan("acme", ids[i%len(ids)], "racer", now)
		i++
	}
}

// BenchmarkHash measures the state hash over manyBans, never from its
// memo (a new FSM over the same modules each time), and BenchmarkSnapshot
// the capture that FSM.Snapshot takes, which is what stalls Apply.
func BenchmarkHash(b *testing.B) {
	h, _ := manyBans(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.freshHash()
	}
}

func BenchmarkSnapshot(b *testing.B) {
	h, _ := manyBans(b)
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
