package state_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/settings"
)

// newHarness returns a harness over every domain, in state's order.
func newHarness(t testing.TB) (*harness, *state.Domains) {
	t.Helper()
	d := state.New()
	return newHarnessOver(t, d.Modules()), d
}

func TestModulesOrder(t *testing.T) {
	var names []string
	for _, m := range state.New().Modules() {
		names = append(names, m.Name())
	}
	// The order is part of the hash and of the snapshot: never reorder.
	want := []string{"tenancy", "bans", "operators", "settings", "audit", "identity", "cluster", "servers", "webhooks", "ugc"}
	if len(names) != len(want) {
		t.Fatalf("modules %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("modules %v, want %v", names, want)
		}
	}
}

// TestFSMApplyCommands applies each first-release command to baseState and
// checks the outcome, its audit entry, and that a rejection changes no
// module.
func TestFSMApplyCommands(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		cmd     *cassnetv1.Command
		raw     []byte // applied instead of cmd when set
		wantErr error
		// for accepted commands: the audit entry's action, tenant, target
		action, tenant, target string
		check                  func(t *testing.T, h *harness, d *state.Domains)
	}{
		{name: "create tenant", cmd: createTenant("new"), action: "tenant.create", tenant: "new", target: "new",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				got, ok := d.Tenancy.Tenant("new")
				if !ok || got.CreatedBy != "op:alice" || !got.CreatedAt.Equal(h.now) {
					t.Errorf("Tenant = %+v, %v", got, ok)
				}
			}},
		{name: "create tenant conflict", cmd: createTenant("acme"), wantErr: consensus.ErrConflict},
		{name: "create tenant invalid", cmd: createTenant("Acme"), wantErr: consensus.ErrInvalid},
		{name: "delete tenant", cmd: deleteTenant("acme"), action: "tenant.delete", tenant: "acme", target: "acme",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if _, err := d.Tenancy.Projects("acme"); !errors.Is(err, consensus.ErrNotFound) {
					t.Errorf("Projects after delete: %v", err)
				}
				// Recreating the tenant must not resurrect its bans or index.
				h.mustApply(createTenant("acme"))
				if _, ok := d.Bans.ActiveBan("acme", "p1", "", h.now); ok {
					t.Error("ban survived tenant delete")
				}
				if bs, _ := d.Bans.Bans("acme", bans.Filter{}); len(bs) != 0 {
					t.Errorf("bans after recreate: %v", bs)
				}
				if ps, _ := d.Tenancy.Projects("acme"); len(ps) != 0 {
					t.Errorf("projects after recreate: %v", ps)
				}
			}},
		{name: "delete tenant missing", cmd: deleteTenant("nope"), wantErr: consensus.ErrNotFound},
		{name: "delete tenant invalid", cmd: deleteTenant(""), wantErr: consensus.ErrInvalid},
		{name: "create project", cmd: createProject("acme", "racer"), action: "project.create", tenant: "acme", target: "racer",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if p, ok := d.Tenancy.Project("acme", "racer"); !ok || p.Tenant != "acme" {
					t.Errorf("Project = %+v, %v", p, ok)
				}
			}},
		{name: "create project same name other tenant", cmd: createProject("other", "shooter"), action: "project.create", tenant: "other", target: "shooter"},
		{name: "create project missing tenant", cmd: createProject("nope", "racer"), wantErr: consensus.ErrNotFound},
		{name: "create project conflict", cmd: createProject("acme", "shooter"), wantErr: consensus.ErrConflict},
		{name: "create project invalid", cmd: createProject("acme", "-x"), wantErr: consensus.ErrInvalid},
		{name: "create ban permanent", cmd: createBan("acme", "b3", "", "p3", 0), action: "ban.create", tenant: "acme", target: "b3",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				b, ok := d.Bans.Ban("acme", "b3")
				if !ok || b.ExpiresAt != nil || b.PlayerID != "p3" || b.CreatedBy != "op:alice" || !b.CreatedAt.Equal(h.now) {
					t.Errorf("Ban = %+v, %v", b, ok)
				}
			}},
		{name: "create ban project timed", cmd: createBan("acme", "b3", "shooter", "p3", 60), action: "ban.create", tenant: "acme", target: "b3",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				b, _ := d.Bans.Ban("acme", "b3")
				if b.ExpiresAt == nil || !b.ExpiresAt.Equal(h.now.Add(time.Minute)) || b.ExpiresAt.Location() != time.UTC {
					t.Errorf("ExpiresAt = %v, want %v UTC", b.ExpiresAt, h.now.Add(time.Minute))
				}
			}},
		{name: "create ban max duration", cmd: createBan("acme", "b3", "", "p3", int64(bans.MaxDuration/time.Second)), action: "ban.create", tenant: "acme", target: "b3"},
		{name: "create ban same id other tenant", cmd: createBan("other", "b1", "", "p1", 0), action: "ban.create", tenant: "other", target: "b1"},
		{name: "create ban missing tenant", cmd: createBan("nope", "b3", "", "p3", 0), wantErr: consensus.ErrNotFound},
		{name: "create ban missing project", cmd: createBan("acme", "b3", "racer", "p3", 0), wantErr: consensus.ErrNotFound},
		{name: "create ban project of other tenant", cmd: createBan("other", "b3", "shooter", "p3", 0), wantErr: consensus.ErrNotFound},
		{name: "create ban duplicate id", cmd: createBan("acme", "b1", "", "p9", 0), wantErr: consensus.ErrConflict},
		{name: "create ban negative duration", cmd: createBan("acme", "b3", "", "p3", -1), wantErr: consensus.ErrInvalid},
		{name: "create ban too long", cmd: createBan("acme", "b3", "", "p3", int64(bans.MaxDuration/time.Second)+1), wantErr: consensus.ErrInvalid},
		{name: "create ban bad player", cmd: createBan("acme", "b3", "", "p 3", 0), wantErr: consensus.ErrInvalid},
		{name: "create ban bad id", cmd: createBan("acme", "B3", "", "p3", 0), wantErr: consensus.ErrInvalid},
		{name: "create ban bad reason", cmd: with(createBan("acme", "b3", "", "p3", 0), func(c *cassnetv1.Command) {
			c.GetCreateBan().Reason = "line\nbreak"
		}), wantErr: consensus.ErrInvalid},
		{name: "revoke ban", cmd: revokeBan("acme", "b1"), action: "ban.revoke", tenant: "acme", target: "b1",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				b, _ := d.Bans.Ban("acme", "b1")
				if b.RevokedAt == nil || !b.RevokedAt.Equal(h.now) || b.RevokedBy != "op:alice" {
					t.Errorf("Ban = %+v", b)
				}
				if _, ok := d.Bans.ActiveBan("acme", "p1", "", h.now); ok {
					t.Error("revoked ban still active")
				}
			}},
		{name: "revoke ban missing", cmd: revokeBan("acme", "b9"), wantErr: consensus.ErrNotFound},
		{name: "revoke ban other tenant", cmd: revokeBan("other", "b1"), wantErr: consensus.ErrNotFound},
		{name: "revoke ban missing tenant", cmd: revokeBan("nope", "b1"), wantErr: consensus.ErrNotFound},
		{name: "revoke ban already revoked", cmd: revokeBan("acme", "b2"), wantErr: consensus.ErrConflict},
		{name: "set settings", cmd: setSettings(2), action: "settings.set", target: "audit_retention",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if got := d.Settings.Get().AuditRetention; got != 2 {
					t.Errorf("AuditRetention = %d", got)
				}
				if got := len(d.Audit.Entries("", 0)); got != 2 {
					t.Errorf("audit kept %d entries, want 2", got)
				}
			}},
		{name: "set settings zero", cmd: setSettings(0), wantErr: consensus.ErrInvalid},
		{name: "set settings too large", cmd: setSettings(settings.MaxAuditRetention + 1), wantErr: consensus.ErrInvalid},
		{name: "set ban retention at state version 1", cmd: setBanRetention(settings.MinBanRetention), wantErr: consensus.ErrStateVersion},
		{name: "create token", cmd: createToken("tok1", secret), action: "operator_token.create", target: "tok1",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				tok, ok := d.Operators.Token("tok1")
				if !ok || !bytes.Equal(tok.SecretSHA256, secret) || tok.Name != "ci" {
					t.Errorf("Token = %+v, %v", tok, ok)
				}
				h.mustApply(createToken("tok2", secret))
				if res := h.apply(createToken("tok1", secret)); !errors.Is(res.Err, consensus.ErrConflict) {
					t.Errorf("duplicate token: %v", res.Err)
				}
			}},
		{name: "create token short secret", cmd: createToken("tok1", secret[:31]), wantErr: consensus.ErrInvalid},
		{name: "create token bad id", cmd: createToken("", secret), wantErr: consensus.ErrInvalid},
		{name: "version 0", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 0 }), wantErr: consensus.ErrInvalid},
		{name: "version 2", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 2 }), wantErr: consensus.ErrInvalid},
		{name: "no op", cmd: newCmd(), wantErr: consensus.ErrInvalid},
		{name: "no leader time", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.TimeUnixNano = -1 }), wantErr: consensus.ErrInvalid},
		{name: "actor with control char", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Actor = "a\x1b[31m" }), wantErr: consensus.ErrInvalid},
		{name: "undecodable", raw: []byte{0xff, 0xff, 0xff}, wantErr: consensus.ErrInvalid},
		// Field 17 is an operation this node does not know yet.
		{name: "unknown op", raw: []byte{0x08, 0x01, 0x10, 0x01, 0x8a, 0x01, 0x00}, wantErr: consensus.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d := newHarness(t)
			baseState(h)
			before, auditBefore := h.fsm.Hash(), len(d.Audit.Entries("", 0))
			var res *consensus.ApplyResult
			if tt.raw != nil {
				res = h.applyRaw(tt.raw)
			} else {
				res = h.apply(tt.cmd)
			}
			if got := h.fsm.Applied().Index(); got != h.index {
				t.Fatalf("Index = %d, want %d", got, h.index)
			}
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) {
					t.Fatalf("Err = %v, want %v", res.Err, tt.wantErr)
				}
				if after := h.fsm.Hash(); after != before {
					t.Fatal("rejected command changed the state")
				}
				if n := len(d.Audit.Entries("", 0)); n != auditBefore {
					t.Fatalf("rejected command was audited: %d -> %d entries", auditBefore, n)
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			if h.fsm.Hash() == before {
				t.Fatal("accepted command did not change the hash")
			}
			want := audit.Entry{Index: h.index, Time: h.now, Actor: "op:alice", Action: tt.action, Tenant: tt.tenant, Target: tt.target}
			if got := d.Audit.Entries("", 1); len(got) != 1 || got[0] != want {
				t.Fatalf("newest audit = %+v, want %+v", got, want)
			}
			if tt.check != nil {
				tt.check(t, h, d)
			}
		})
	}
}

func TestFSMApplyIdentity(t *testing.T) {
	tokSecret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		cmd     *cassnetv1.Command
		wantErr error
		action  string // "" for an accepted command without an audit entry
		check   func(t *testing.T, h *harness, d *state.Domains)
	}{
		{name: "create key", cmd: createKey("acme", "00000000000000bb", identity.RoleTenantAdmin, "", 0), action: "api_key.create",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				k, ok := d.Identity.APIKey("00000000000000bb")
				if !ok || k.Tenant != "acme" || k.Role != identity.RoleTenantAdmin || k.CreatedBy != "op:alice" || k.ExpiresAt != nil {
					t.Errorf("APIKey = %+v, %v", k, ok)
				}
				if a := d.Audit.Entries("acme", 1); a[0].Detail != "role=tenant-admin" {
					t.Errorf("audit detail %q", a[0].Detail)
				}
			}},
		{name: "create project key", cmd: createKey("acme", "00000000000000bb", identity.RoleGameServer, "shooter", 0), action: "api_key.create",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if a := d.Audit.Entries("acme", 1); a[0].Detail != "role=game-server project=shooter" {
					t.Errorf("audit detail %q", a[0].Detail)
				}
			}},
		{name: "create key duplicate id across tenants", cmd: createKey("other", testKeyID, identity.RoleReadOnly, "", 0), wantErr: consensus.ErrConflict},
		{name: "create key missing tenant", cmd: createKey("nope", "00000000000000bb", identity.RoleReadOnly, "", 0), wantErr: consensus.ErrNotFound},
		{name: "create key missing project", cmd: createKey("acme", "00000000000000bb", identity.RoleGameServer, "racer", 0), wantErr: consensus.ErrNotFound},
		{name: "create key project on admin", cmd: createKey("acme", "00000000000000bb", identity.RoleTenantAdmin, "shooter", 0), wantErr: consensus.ErrInvalid},
		{name: "create key bad role", cmd: createKey("acme", "00000000000000bb", "root", "", 0), wantErr: consensus.ErrInvalid},
		{name: "create key bad id", cmd: createKey("acme", "XYZ", identity.RoleReadOnly, "", 0), wantErr: consensus.ErrInvalid},
		{name: "create key already expired", cmd: createKey("acme", "00000000000000bb", identity.RoleReadOnly, "", testEpoch.Unix()), wantErr: consensus.ErrInvalid},
		{name: "revoke key", cmd: revokeKey("acme", testKeyID), action: "api_key.revoke",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if _, ok := d.Identity.APIKey(testKeyID); ok {
					t.Error("revoked key still authenticates")
				}
			}},
		{name: "revoke key of other tenant", cmd: revokeKey("other", testKeyID), wantErr: consensus.ErrNotFound},
		{name: "revoke key missing", cmd: revokeKey("acme", "00000000000000bb"), wantErr: consensus.ErrNotFound},
		{name: "touch key", cmd: touchKeys(testKeyID, testEpoch.Add(time.Hour).Unix()),
			check: func(t *testing.T, h *harness, d *state.Domains) {
				k, _ := d.Identity.APIKey(testKeyID)
				if k.LastUsedAt == nil || !k.LastUsedAt.Equal(testEpoch.Add(time.Hour)) {
					t.Errorf("LastUsedAt = %v", k.LastUsedAt)
				}
			}},
		{name: "touch never moves back", cmd: touchKeys(testKeyID, testEpoch.Add(-time.Hour).Unix()),
			check: func(t *testing.T, h *harness, d *state.Domains) {
				k, _ := d.Identity.APIKey(testKeyID)
				if k.LastUsedAt == nil || !k.LastUsedAt.Equal(testEpoch) {
					t.Errorf("LastUsedAt = %v", k.LastUsedAt)
				}
			}},
		{name: "touch unknown key is a no-op", cmd: touchKeys("00000000000000bb", testEpoch.Unix())},
		{name: "touch empty", cmd: with(touchKeys(testKeyID, 1), func(c *cassnetv1.Command) { c.GetTouchApiKeys().Entries = nil }), wantErr: consensus.ErrInvalid},
		{name: "rotate", cmd: rotateKey("kid2", false), action: "signing_key.rotate",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if k, ok := d.Identity.ActiveSigningKey(); !ok || k.KID != "kid2" {
					t.Errorf("active = %+v", k)
				}
				if k, ok := d.Identity.SigningKey("kid1"); !ok || k.RetiredAt == nil || !k.RetiredAt.Equal(h.now) {
					t.Errorf("kid1 = %+v, %v", k, ok)
				}
				if ks := d.Identity.SigningKeys(); len(ks) != 2 || ks[0].KID != "kid1" {
					t.Errorf("SigningKeys = %+v", ks)
				}
			}},
		{name: "rotate if none when one exists", cmd: rotateKey("kid2", true), wantErr: consensus.ErrConflict},
		{name: "rotate duplicate kid", cmd: rotateKey("kid1", false), wantErr: consensus.ErrConflict},
		{name: "rotate short key", cmd: with(rotateKey("kid2", false), func(c *cassnetv1.Command) {
			c.GetRotateSigningKey().PrivateKey = []byte{1}
		}), wantErr: consensus.ErrInvalid},
		{name: "revoke session", cmd: revokeSession("acme", "ses2", 0), action: "session.revoke",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if !d.Identity.SessionRevoked("acme", "ses2", "anyone", "", h.now.Add(-time.Hour)) {
					t.Error("session not revoked")
				}
				if d.Identity.SessionRevoked("other", "ses2", "anyone", "", h.now) {
					t.Error("revocation leaked into another tenant")
				}
				r := d.Identity.SessionRevocations("acme")
				if len(r) != 2 || !r[1].ExpiresAt.Equal(h.now.Add(settings.DefaultMaxSessionTTLSeconds*time.Second)) {
					t.Errorf("revocations = %+v", r)
				}
			}},
		{name: "revoke session again keeps the later expiry", cmd: revokeSession("acme", "ses1", testEpoch.Add(time.Minute).Unix()), action: "session.revoke",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				r := d.Identity.SessionRevocations("acme")
				if len(r) != 1 || r[0].ExpiresAt.Before(testEpoch.Add(time.Hour)) {
					t.Errorf("revocations = %+v", r)
				}
			}},
		{name: "revoke session missing tenant", cmd: revokeSession("nope", "ses2", 0), wantErr: consensus.ErrNotFound},
		{name: "revoke session bad id", cmd: revokeSession("acme", "Bad Id", 0), wantErr: consensus.ErrInvalid},
		{name: "revoke player tenant-wide", cmd: revokePlayer("acme", "p9", ""), action: "player_sessions.revoke",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				st := d.Identity
				if !st.SessionRevoked("acme", "s", "p9", "shooter", h.now) || !st.SessionRevoked("acme", "s", "p9", "", h.now.Add(-time.Minute)) {
					t.Error("tenant-wide revocation missed a session")
				}
				if st.SessionRevoked("acme", "s", "p9", "", h.now.Add(time.Second)) {
					t.Error("a session issued after the revocation is revoked")
				}
			}},
		{name: "revoke player in project", cmd: revokePlayer("acme", "p9", "shooter"), action: "player_sessions.revoke",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				st := d.Identity
				if !st.SessionRevoked("acme", "s", "p9", "shooter", h.now) || st.SessionRevoked("acme", "s", "p9", "", h.now) {
					t.Error("project revocation applies to the wrong sessions")
				}
				if a := d.Audit.Entries("acme", 1); a[0].Detail != "project=shooter" {
					t.Errorf("audit detail %q", a[0].Detail)
				}
			}},
		{name: "revoke player missing project", cmd: revokePlayer("acme", "p9", "racer"), wantErr: consensus.ErrNotFound},
		{name: "auth failures", cmd: authFailures("anonymous", "malformed", "", 12), action: "auth.failure",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				a := d.Audit.Entries("", 1)[0]
				if a.Actor != "anonymous" || a.Target != "malformed" || a.Detail != "count=12 node=n1" {
					t.Errorf("audit = %+v", a)
				}
			}},
		{name: "auth failures bad credential", cmd: authFailures("apikey:cnk_secret", "bad_secret", "", 1), wantErr: consensus.ErrInvalid},
		{name: "auth failures zero count", cmd: authFailures("anonymous", "missing", "", 0), wantErr: consensus.ErrInvalid},
		{name: "revoke last operator token", cmd: revokeToken("0123456789abcdef"), wantErr: consensus.ErrConflict},
		{name: "create expiring operator token", cmd: with(createToken("0123456789abcde0", tokSecret), func(c *cassnetv1.Command) {
			c.GetCreateOperatorToken().ExpiresUnix = testEpoch.Add(time.Hour).Unix()
		}), action: "operator_token.create"},
		{name: "set session ttl", cmd: setSessionTTL(3600), action: "settings.set",
			check: func(t *testing.T, h *harness, d *state.Domains) {
				if s := d.Settings.Get(); s.MaxSessionTTLSeconds != 3600 || s.AuditRetention != settings.DefaultAuditRetention {
					t.Errorf("settings = %+v", s)
				}
			}},
		{name: "set session ttl too short", cmd: setSessionTTL(10), wantErr: consensus.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d := newHarness(t)
			baseState(h)
			h.mustApply(identityState()...)
			h.mustApply(createToken("0123456789abcdef", tokSecret))
			before, auditBefore := h.fsm.Hash(), len(d.Audit.Entries("", 0))
			res := h.apply(tt.cmd)
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) {
					t.Fatalf("Err = %v, want %v", res.Err, tt.wantErr)
				}
				if h.fsm.Hash() != before || len(d.Audit.Entries("", 0)) != auditBefore {
					t.Fatal("rejected command changed the state")
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			entries := d.Audit.Entries("", 0)
			switch {
			case tt.action == "" && len(entries) != auditBefore:
				t.Fatalf("command was audited: %+v", entries[0])
			case tt.action != "" && (len(entries) != auditBefore+1 || entries[0].Action != tt.action || entries[0].Index != h.index):
				t.Fatalf("newest audit = %+v, want action %q", entries[0], tt.action)
			}
			if tt.check != nil {
				tt.check(t, h, d)
			}
		})
	}
}

// TestAuditEveryCommand checks that every accepted command but the
// unaudited bookkeeping ones leaves exactly one audit entry per event, at
// its index, with its actor.
func TestAuditEveryCommand(t *testing.T) {
	h, d := newHarness(t)
	gossip := bytes.Repeat([]byte{1}, 32)
	join, _ := joinTokenCmd("s", 0)
	cmds := []struct {
		cmd    *cassnetv1.Command
		action string // "" when not audited
	}{
		{createTenant("acme"), "tenant.create"},
		{createProject("acme", "g"), "project.create"},
		{createBan("acme", "b1", "g", "p1", 60), "ban.create"},
		{revokeBan("acme", "b1"), "ban.revoke"},
		{setSettings(500), "settings.set"},
		{createToken("0123456789abcdef", make([]byte, 32)), "operator_token.create"},
		{createToken("0123456789abcde0", make([]byte, 32)), "operator_token.create"},
		{revokeToken("0123456789abcde0"), "operator_token.revoke"},
		{createKey("acme", testKeyID, identity.RoleReadOnly, "", 0), "api_key.create"},
		{touchKeys(testKeyID, testEpoch.Unix()), ""},
		{revokeKey("acme", testKeyID), "api_key.revoke"},
		{rotateKey("kid1", true), "signing_key.rotate"},
		{revokeSession("acme", "s1", 0), "session.revoke"},
		{revokePlayer("acme", "p1", ""), "player_sessions.revoke"},
		{authFailures("anonymous", "malformed", "acme", 2), "auth.failure"},
		{keyringCmd("install", gossip), "gossip_keyring.install"},
		{join, "join_token.create"},
		{revokeJoinTokenCmd(join.GetCreateJoinToken().GetId()), "join_token.revoke"},
		{setStateVersion(consensus.StateVersionDomains), ""},
		{setBanRetention(settings.MinBanRetention), "settings.set"},
		{deleteTenant("acme"), "tenant.delete"},
	}
	for _, c := range cmds {
		n := len(d.Audit.Entries("", 0))
		h.mustApply(c.cmd)
		got := d.Audit.Entries("", 0)
		if c.action == "" {
			if len(got) != n {
				t.Errorf("%s: audited as %+v", c.cmd.GetOp(), got[0])
			}
			continue
		}
		if len(got) != n+1 || got[0].Action != c.action || got[0].Index != h.index || got[0].Actor != c.cmd.GetActor() && c.action != "auth.failure" {
			t.Errorf("%s: newest audit %+v, want action %q at %d", c.action, got[0], c.action, h.index)
		}
	}
}
