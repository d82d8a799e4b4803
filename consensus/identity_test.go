package consensus

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func TestFSMApplyIdentity(t *testing.T) {
	tokSecret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		cmd     *cassnetv1.Command
		wantErr error
		action  string // "" for an accepted command without an audit entry
		check   func(t *testing.T, h *harness)
	}{
		{name: "create key", cmd: createKey("acme", "00000000000000bb", RoleTenantAdmin, "", 0), action: "api_key.create",
			check: func(t *testing.T, h *harness) {
				k, ok := h.state().APIKey("00000000000000bb")
				if !ok || k.Tenant != "acme" || k.Role != RoleTenantAdmin || k.CreatedBy != "op:alice" || k.ExpiresAt != nil {
					t.Errorf("APIKey = %+v, %v", k, ok)
				}
				if a := h.state().Audit("acme", 1); a[0].Detail != "role=tenant-admin" {
					t.Errorf("audit detail %q", a[0].Detail)
				}
			}},
		{name: "create key duplicate id across tenants", cmd: createKey("other", testKeyID, RoleReadOnly, "", 0), wantErr: ErrConflict},
		{name: "create key missing tenant", cmd: createKey("nope", "00000000000000bb", RoleReadOnly, "", 0), wantErr: ErrNotFound},
		{name: "create key missing project", cmd: createKey("acme", "00000000000000bb", RoleGameServer, "racer", 0), wantErr: ErrNotFound},
		{name: "create key project on admin", cmd: createKey("acme", "00000000000000bb", RoleTenantAdmin, "shooter", 0), wantErr: ErrInvalid},
		{name: "create key bad role", cmd: createKey("acme", "00000000000000bb", "root", "", 0), wantErr: ErrInvalid},
		{name: "create key bad id", cmd: createKey("acme", "XYZ", RoleReadOnly, "", 0), wantErr: ErrInvalid},
		{name: "create key already expired", cmd: createKey("acme", "00000000000000bb", RoleReadOnly, "", testEpoch.Unix()), wantErr: ErrInvalid},
		{name: "revoke key", cmd: revokeKey("acme", testKeyID), action: "api_key.revoke",
			check: func(t *testing.T, h *harness) {
				if _, ok := h.state().APIKey(testKeyID); ok {
					t.Error("revoked key still authenticates")
				}
			}},
		{name: "revoke key of other tenant", cmd: revokeKey("other", testKeyID), wantErr: ErrNotFound},
		{name: "revoke key missing", cmd: revokeKey("acme", "00000000000000bb"), wantErr: ErrNotFound},
		{name: "touch key", cmd: touchKeys(testKeyID, testEpoch.Add(time.Hour).Unix()),
			check: func(t *testing.T, h *harness) {
				k, _ := h.state().APIKey(testKeyID)
				if k.LastUsedAt == nil || !k.LastUsedAt.Equal(testEpoch.Add(time.Hour)) {
					t.Errorf("LastUsedAt = %v", k.LastUsedAt)
				}
			}},
		{name: "touch unknown key is a no-op", cmd: touchKeys("00000000000000bb", testEpoch.Unix())},
		{name: "touch empty", cmd: with(touchKeys(testKeyID, 1), func(c *cassnetv1.Command) { c.GetTouchApiKeys().Entries = nil }), wantErr: ErrInvalid},
		{name: "rotate", cmd: rotateKey("kid2", false), action: "signing_key.rotate",
			check: func(t *testing.T, h *harness) {
				if k, ok := h.state().ActiveSigningKey(); !ok || k.KID != "kid2" {
					t.Errorf("active = %+v", k)
				}
				if k, ok := h.state().SigningKey("kid1"); !ok || k.RetiredAt == nil || !k.RetiredAt.Equal(h.now) {
					t.Errorf("kid1 = %+v, %v", k, ok)
				}
			}},
		{name: "rotate if none when one exists", cmd: rotateKey("kid2", true), wantErr: ErrConflict},
		{name: "rotate duplicate kid", cmd: rotateKey("kid1", false), wantErr: ErrConflict},
		{name: "rotate short key", cmd: with(rotateKey("kid2", false), func(c *cassnetv1.Command) {
			c.GetRotateSigningKey().PrivateKey = []byte{1}
		}), wantErr: ErrInvalid},
		{name: "revoke session", cmd: revokeSession("acme", "ses2", 0), action: "session.revoke",
			check: func(t *testing.T, h *harness) {
				if !h.state().SessionRevoked("acme", "ses2", "anyone", "", h.now.Add(-time.Hour)) {
					t.Error("session not revoked")
				}
				if h.state().SessionRevoked("other", "ses2", "anyone", "", h.now) {
					t.Error("revocation leaked into another tenant")
				}
				r := h.state().SessionRevocations("acme")
				if len(r) != 2 || !r[1].ExpiresAt.Equal(h.now.Add(DefaultMaxSessionTTLSeconds*time.Second)) {
					t.Errorf("revocations = %+v", r)
				}
			}},
		{name: "revoke session missing tenant", cmd: revokeSession("nope", "ses2", 0), wantErr: ErrNotFound},
		{name: "revoke session bad id", cmd: revokeSession("acme", "Bad Id", 0), wantErr: ErrInvalid},
		{name: "revoke player tenant-wide", cmd: revokePlayer("acme", "p9", ""), action: "player_sessions.revoke",
			check: func(t *testing.T, h *harness) {
				st := h.state()
				if !st.SessionRevoked("acme", "s", "p9", "shooter", h.now) || !st.SessionRevoked("acme", "s", "p9", "", h.now.Add(-time.Minute)) {
					t.Error("tenant-wide revocation missed a session")
				}
				if st.SessionRevoked("acme", "s", "p9", "", h.now.Add(time.Second)) {
					t.Error("a session issued after the revocation is revoked")
				}
			}},
		{name: "revoke player missing project", cmd: revokePlayer("acme", "p9", "racer"), wantErr: ErrNotFound},
		{name: "auth failures", cmd: authFailures("anonymous", "malformed", "", 12), action: "auth.failure",
			check: func(t *testing.T, h *harness) {
				a := h.state().Audit("", 1)[0]
				if a.Actor != "anonymous" || a.Target != "malformed" || a.Detail != "count=12 node=n1" {
					t.Errorf("audit = %+v", a)
				}
			}},
		{name: "auth failures bad credential", cmd: authFailures("apikey:cnk_secret", "bad_secret", "", 1), wantErr: ErrInvalid},
		{name: "auth failures zero count", cmd: authFailures("anonymous", "missing", "", 0), wantErr: ErrInvalid},
		{name: "revoke last operator token", cmd: revokeToken("0123456789abcdef"), wantErr: ErrConflict},
		{name: "create expiring operator token", cmd: with(createToken("0123456789abcde0", tokSecret), func(c *cassnetv1.Command) {
			c.GetCreateOperatorToken().ExpiresUnix = testEpoch.Add(time.Hour).Unix()
		}), action: "operator_token.create"},
		{name: "set session ttl", cmd: setSessionTTL(3600), action: "settings.set",
			check: func(t *testing.T, h *harness) {
				if s := h.state().Settings(); s.MaxSessionTTLSeconds != 3600 || s.AuditRetention != DefaultAuditRetention {
					t.Errorf("settings = %+v", s)
				}
			}},
		{name: "set session ttl too short", cmd: setSessionTTL(10), wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			h.mustApply(identityState()...)
			h.mustApply(createToken("0123456789abcdef", tokSecret))
			before, auditBefore := h.state().Hash(), len(h.state().Audit("", 0))
			res := h.apply(tt.cmd)
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) {
					t.Fatalf("Err = %v, want %v", res.Err, tt.wantErr)
				}
				if h.state().Hash() != before || len(h.state().Audit("", 0)) != auditBefore {
					t.Fatal("rejected command changed the state")
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			audit := h.state().Audit("", 0)
			switch {
			case tt.action == "" && len(audit) != auditBefore:
				t.Fatalf("command was audited: %+v", audit[0])
			case tt.action != "" && (len(audit) != auditBefore+1 || audit[0].Action != tt.action || audit[0].Index != h.index):
				t.Fatalf("newest audit = %+v, want action %q", audit[0], tt.action)
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

func TestPruneUsesLeaderTime(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	h.mustApply(setSessionTTL(3600))
	exp := h.now.Add(30 * time.Minute).Unix()
	h.mustApply(
		createKey("acme", testKeyID, RoleReadOnly, "", exp),
		rotateKey("kid1", true),
		revokeSession("acme", "ses1", 0),
		revokePlayer("acme", "p1", ""),
		rotateKey("kid2", false), // retires kid1 now
	)
	st := h.state()
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
	// A rejected command prunes nothing.
	g := newHarness(t)
	baseState(g)
	g.mustApply(revokeSession("acme", "ses1", g.now.Add(2*time.Second).Unix()))
	bad := createTenant("acme") // conflict
	bad.TimeUnixNano = g.now.Add(time.Hour).UnixNano()
	if res := g.apply(bad); !errors.Is(res.Err, ErrConflict) {
		t.Fatal(res.Err)
	}
	if len(g.state().SessionRevocations("acme")) != 1 {
		t.Fatal("a rejected command pruned")
	}
}

func TestDeleteTenantDropsKeys(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	h.mustApply(identityState()...)
	h.mustApply(deleteTenant("acme"), createTenant("acme"))
	if _, ok := h.state().APIKey(testKeyID); ok {
		t.Fatal("key of a deleted tenant survived")
	}
	if h.state().SessionRevoked("acme", "ses1", "p", "", testEpoch) {
		t.Fatal("revocation of a deleted tenant survived")
	}
	// The ID is free again.
	h.mustApply(createKey("acme", testKeyID, RoleReadOnly, "", 0))
}

func TestIdentitySnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	h.mustApply(identityState()...)
	h.mustApply(rotateKey("kid2", false))
	data := persist(t, h.fsm)
	if bytes.Contains(data, []byte("cnk_")) {
		t.Fatal("snapshot holds a key string")
	}
	g := newHarness(t)
	restore(t, g.fsm, data)
	if g.state().Hash() != h.state().Hash() {
		t.Fatal("restored hash differs")
	}
	if !g.state().SessionRevoked("acme", "s", "p1", "shooter", testEpoch) {
		t.Fatal("player revocation lost")
	}
	if k, ok := g.state().ActiveSigningKey(); !ok || k.KID != "kid2" {
		t.Fatal("active signing key lost")
	}
	// A version-1 snapshot (before identity) still restores.
	v1 := `{"version":1,"index":3,"settings":{"audit_retention":7},"tenants":[{"name":"x"}]}`
	if err := g.fsm.Restore(nopCloser{strings.NewReader(v1)}); err != nil {
		t.Fatal(err)
	}
	if s := g.state().Settings(); s.MaxSessionTTLSeconds != DefaultMaxSessionTTLSeconds || s.AuditRetention != 7 {
		t.Fatalf("settings from v1 = %+v", s)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
