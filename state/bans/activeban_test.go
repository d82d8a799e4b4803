package bans_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/state/bans"
)

// TestActiveBanTies: bans that end at the same instant (two permanent
// ones, or two whose expiries meet) are told apart by CreatedAt, then ID.
func TestActiveBanTies(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(
		createTenant("acme"),
		createProject("acme", "shooter"),
		createBan("acme", "z-first", "", "perm", 0), // permanent, created first
		createBan("acme", "a-second", "", "perm", 0),
		createBan("acme", "early", "", "meet", 7200), // created at T, ends T+2h
		createBan("acme", "late", "", "meet", 7199),  // created at T+1s, ends T+2h
		createBan("acme", "proj", "shooter", "meet", 0),
	)
	for _, tt := range []struct{ player, project, want string }{
		{"perm", "", "z-first"},
		{"meet", "", "early"},
		{"meet", "shooter", "proj"},
	} {
		b, ok := s.ActiveBan("acme", tt.player, tt.project, h.now)
		if !ok || b.ID != tt.want {
			t.Errorf("ActiveBan(%s, %q) = %q, %v; want %q", tt.player, tt.project, b.ID, ok, tt.want)
		}
	}
}

// TestActiveBanMatchesBans checks ActiveBan against a reference computed
// from the Bans listing, over random bans, revocations of a
// few players: projects, durations (some ending at the same instant) and
// check times are drawn at random.
func TestActiveBanMatchesBans(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	h, s := newHarness(t)
	h.mustApply(createTenant("acme"), createProject("acme", "shooter"), createProject("acme", "racer"))
	projects := []string{"", "shooter", "racer"}
	players := []string{"p0", "p1", "p2", "p3"}
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("ban-%03d", i)
		if i > 0 && rng.IntN(5) == 0 {
			h.apply(revokeBan("acme", ids[rng.IntN(len(ids))])) // may be revoked already
		}
		// Durations are multiples of 10 s from a 1 s clock, so expiries
		// of different bans often meet.
		h.mustApply(createBan("acme", id, projects[rng.IntN(3)], players[rng.IntN(len(players))], int64(rng.IntN(4))*10))
		ids = append(ids, id)
		for _, player := range players {
			for _, project := range projects {
				at := h.now.Add(time.Duration(rng.IntN(40)-5) * time.Second)
				got, gotOK := s.ActiveBan("acme", player, project, at)
				want, wantOK := referenceActiveBan(t, s, player, project, at)
				if gotOK != wantOK || got.ID != want.ID {
					t.Fatalf("after %s: ActiveBan(%s, %q, %v) = %q, %v; want %q, %v", id, player, project, at, got.ID, gotOK, want.ID, wantOK)
				}
			}
		}
	}
}

// referenceActiveBan picks the active ban from the player's listing: the
// latest end (permanent first), then the earliest CreatedAt, then ID.
func referenceActiveBan(t *testing.T, s *bans.Store, player, project string, at time.Time) (bans.Ban, bool) {
	t.Helper()
	list, err := s.Bans("acme", bans.Filter{PlayerID: player, ActiveAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	var best *bans.Ban
	end := func(b *bans.Ban) time.Time {
		if b.ExpiresAt == nil {
			return time.Unix(1<<62, 0)
		}
		return *b.ExpiresAt
	}
	for i := range list {
		b := &list[i]
		if b.ProjectID != "" && b.ProjectID != project {
			continue
		}
		switch {
		case best == nil, end(b).After(end(best)):
			best = b
		case end(b).Equal(end(best)) && (b.CreatedAt.Before(best.CreatedAt) || b.CreatedAt.Equal(best.CreatedAt) && b.ID < best.ID):
			best = b
		}
	}
	if best == nil {
		return bans.Ban{}, false
	}
	return *best, true
}
