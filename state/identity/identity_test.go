package identity_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// newHarness returns a harness over the modules identity needs: tenancy
// (tenants and projects) and settings (the session TTL).
func newHarness(t testing.TB) (*harness, *identity.Store) {
	t.Helper()
	ten, set := tenancy.New(), settings.New()
	s := identity.New(ten, set)
	return newHarnessOver(t, []consensus.Module{ten, set, s}), s
}

// base holds tenants acme (with project shooter) and other, and
// identityState.
func base(t *testing.T) (*harness, *identity.Store) {
	t.Helper()
	h, s := newHarness(t)
	h.mustApply(createTenant("acme"), createTenant("other"), createProject("acme", "shooter"))
	h.mustApply(identityState()...)
	return h, s
}

func TestPruneUsesLeaderTime(t *testing.T) {
	h, st := newHarness(t)
	h.mustApply(createTenant("acme"), createTenant("other"), createProject("acme", "shooter"))
	h.mustApply(setSessionTTL(3600))
	exp := h.now.Add(30 * time.Minute).Unix()
	h.mustApply(
		createKey("acme", testKeyID, identity.RoleReadOnly, "", exp),
		rotateKey("kid1", true),
		revokeSession("acme", "ses1", 0),
		revokePlayer("acme", "p1", ""),
		rotateKey("kid2", false), // retires kid1 now
	)
	// Nothing is pruned before its time, even by a command far later in
	// wall-clock terms on this machine: only the stamped time counts.
	h.mustApply(createTenant("tick1"))
	if _, ok := st.APIKey(testKeyID); !ok {
		t.Fatal("key pruned early")
	}
	// 31 minutes of leader time later the key has expired and is pruned.
	c := createTenant("tick2")
	c.TimeUnixNano = h.now.Add(31 * time.Minute).UnixNano()
	h.mustApply(c)
	if _, ok := st.APIKey(testKeyID); ok {
		t.Fatal("expired key not pruned")
	}
	if keys, _ := st.APIKeys("acme"); len(keys) != 0 {
		t.Fatalf("APIKeys after pruning: %+v", keys)
	}
	if len(st.SessionRevocations("acme")) != 1 || len(st.PlayerRevocations("acme")) != 1 {
		t.Fatal("revocations pruned early")
	}
	// After the max session TTL, revocations and the retired key go; the
	// active key stays.
	h.now = h.now.Add(31 * time.Minute)
	c = createTenant("tick3")
	c.TimeUnixNano = h.now.Add(time.Hour).UnixNano()
	h.mustApply(c)
	if n, m := len(st.SessionRevocations("acme")), len(st.PlayerRevocations("acme")); n != 0 || m != 0 {
		t.Fatalf("revocations not pruned: %d %d", n, m)
	}
	if _, ok := st.SigningKey("kid1"); ok {
		t.Fatal("retired key not pruned")
	}
	if _, ok := st.SigningKey("kid2"); !ok {
		t.Fatal("active key pruned")
	}
	// The pruned key's ID is free again.
	h.mustApply(createKey("acme", testKeyID, identity.RoleReadOnly, "", 0))

	// A rejected command prunes nothing.
	g, gs := newHarness(t)
	g.mustApply(createTenant("acme"))
	g.mustApply(revokeSession("acme", "ses1", g.now.Add(2*time.Second).Unix()))
	bad := createTenant("acme") // conflict
	bad.TimeUnixNano = g.now.Add(time.Hour).UnixNano()
	if res := g.apply(bad); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatal(res.Err)
	}
	if len(gs.SessionRevocations("acme")) != 1 {
		t.Fatal("a rejected command pruned")
	}
}

// TestRevokeAgainKeepsLaterExpiry revokes a session twice: the revocation
// lasts until the later expiry, and is pruned only then.
func TestRevokeAgainKeepsLaterExpiry(t *testing.T) {
	h, st := newHarness(t)
	h.mustApply(createTenant("acme"))
	long := h.now.Add(2 * time.Hour).Unix()
	h.mustApply(revokeSession("acme", "s", long), revokeSession("acme", "s", h.now.Add(time.Hour).Unix()))
	r := st.SessionRevocations("acme")
	if len(r) != 1 || r[0].ExpiresAt.Unix() != long {
		t.Fatalf("revocations %+v", r)
	}
	c := createTenant("tick")
	c.TimeUnixNano = h.now.Add(90 * time.Minute).UnixNano()
	h.mustApply(c)
	if len(st.SessionRevocations("acme")) != 1 {
		t.Fatal("pruned at the earlier expiry")
	}
}

func TestIdentityAccessorsReturnCopies(t *testing.T) {
	h, st := base(t)
	hash := h.freshHash()
	k, _ := st.APIKey(testKeyID)
	k.SecretSHA256[0]++
	*k.LastUsedAt = time.Time{}
	keys, _ := st.APIKeys("acme")
	keys[0].SecretSHA256[1]++
	sk, _ := st.ActiveSigningKey()
	sk.PrivateKey[0]++
	all := st.SigningKeys()
	all[0].PrivateKey[1]++
	if h.freshHash() != hash {
		t.Fatal("mutating a returned value changed the state")
	}
	if _, err := st.APIKeys("nope"); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("APIKeys(nope) = %v", err)
	}
}

func TestHashCoversEveryIdentityField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _ := base(t)
		h.mustApply(rotateKey("kid2", false)) // kid1 retired: no field empty
		return h
	}
	store := func(h *harness) *identity.Store { return h.modules[2].(*identity.Store) }
	hashCoversFields(t, setup, func(h *harness, fn func(*identity.APIKey)) {
		identity.EditAPIKey(store(h), "acme", testKeyID, fn)
	})
	hashCoversFields(t, setup, func(h *harness, fn func(*identity.SigningKey)) {
		identity.EditSigningKey(store(h), "kid1", fn)
	})
	hashCoversFields(t, setup, func(h *harness, fn func(*identity.SessionRevocation)) {
		identity.EditSessionRevocation(store(h), "acme", "ses1", fn)
	})
	hashCoversFields(t, setup, func(h *harness, fn func(*identity.PlayerRevocation)) {
		identity.EditPlayerRevocation(store(h), "acme", "p1", "shooter", fn)
	})
}

// TestPruneBoundaries checks the instant each kind of item is pruned at:
// an item expiring at the leader time of an accepted command is pruned by
// it, one expiring a nanosecond later is not.
func TestPruneBoundaries(t *testing.T) {
	const ttl = 3600
	tests := []struct {
		name  string
		setup func(h *harness) time.Time // returns when the item expires
		gone  func(s *identity.Store) bool
	}{
		{"api key", func(h *harness) time.Time {
			exp := h.now.Add(time.Hour).Truncate(time.Second)
			h.mustApply(createKey("acme", testKeyID, identity.RoleReadOnly, "", exp.Unix()))
			return exp
		}, func(s *identity.Store) bool { _, ok := s.APIKey(testKeyID); return !ok }},
		{"session revocation", func(h *harness) time.Time {
			h.mustApply(revokeSession("acme", "s1", 0))
			return h.now.Add(ttl * time.Second)
		}, func(s *identity.Store) bool { return len(s.SessionRevocations("acme")) == 0 }},
		{"player revocation", func(h *harness) time.Time {
			h.mustApply(revokePlayer("acme", "p1", ""))
			return h.now.Add(ttl * time.Second)
		}, func(s *identity.Store) bool { return len(s.PlayerRevocations("acme")) == 0 }},
		{"retired signing key", func(h *harness) time.Time {
			h.mustApply(rotateKey("kid1", true), rotateKey("kid2", false))
			return h.now.Add(ttl * time.Second)
		}, func(s *identity.Store) bool { _, ok := s.SigningKey("kid1"); return !ok }},
	}
	for _, tt := range tests {
		for _, early := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s early=%v", tt.name, early), func(t *testing.T) {
				h, s := newHarness(t)
				h.mustApply(createTenant("acme"), setSessionTTL(ttl))
				exp := tt.setup(h)
				at := exp
				if early {
					at = exp.Add(-time.Nanosecond)
				}
				c := createTenant("tick")
				c.TimeUnixNano = at.UnixNano()
				h.mustApply(c)
				if tt.gone(s) == early {
					t.Fatalf("pruned = %v at expiry%s", tt.gone(s), map[bool]string{true: " - 1ns", false: ""}[early])
				}
			})
		}
	}
}

// TestKeyLimit checks the per-tenant API key limit, that it is per
// tenant, and that a deleted tenant's keys no longer count once the
// tenant is created again.
func TestKeyLimit(t *testing.T) {
	h, _ := newHarness(t)
	h.mustApply(createTenant("acme"), createTenant("other"))
	for i := range identity.MaxKeysPerTenant {
		h.mustApply(createKey("acme", fmt.Sprintf("%016x", i), identity.RoleReadOnly, "", 0))
	}
	if res := h.apply(createKey("acme", "ffffffffffffffff", identity.RoleReadOnly, "", 0)); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("key beyond the limit: %v", res.Err)
	}
	h.mustApply(createKey("other", "fffffffffffffff0", identity.RoleReadOnly, "", 0))
	// Revoking one frees a place.
	h.mustApply(revokeKey("acme", fmt.Sprintf("%016x", 0)), createKey("acme", "ffffffffffffffff", identity.RoleReadOnly, "", 0))

	h.mustApply(deleteTenant("acme"), createTenant("acme"))
	for i := range identity.MaxKeysPerTenant {
		if res := h.apply(createKey("acme", fmt.Sprintf("%016x", i), identity.RoleReadOnly, "", 0)); res.Err != nil {
			t.Fatalf("key %d of the recreated tenant: %v", i, res.Err)
		}
	}
}
