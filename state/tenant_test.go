package state_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/settings"
)

func TestDeleteTenantDropsKeys(t *testing.T) {
	h, d := newHarness(t)
	baseState(h)
	h.mustApply(identityState()...)
	h.mustApply(deleteTenant("acme"), createTenant("acme"))
	if _, ok := d.Identity.APIKey(testKeyID); ok {
		t.Fatal("key of a deleted tenant survived")
	}
	if d.Identity.SessionRevoked("acme", "ses1", "p", "", testEpoch) {
		t.Fatal("revocation of a deleted tenant survived")
	}
	// The ID is free again.
	h.mustApply(createKey("acme", testKeyID, identity.RoleReadOnly, "", 0))
}

// tenantData is what a tenant holds in the other domains.
type tenantData struct {
	bans, keys, sessions, players, projects int
}

func dataOf(t *testing.T, d *state.Domains, tenant string) tenantData {
	t.Helper()
	var td tenantData
	if bs, err := d.Bans.Bans(tenant, bans.Filter{}); err == nil {
		td.bans = len(bs)
	}
	if ks, err := d.Identity.APIKeys(tenant); err == nil {
		td.keys = len(ks)
	}
	if ps, err := d.Tenancy.Projects(tenant); err == nil {
		td.projects = len(ps)
	}
	td.sessions = len(d.Identity.SessionRevocations(tenant))
	td.players = len(d.Identity.PlayerRevocations(tenant))
	return td
}

// TestDropTenant checks that deleting a tenant drops, in the same log
// entry, its projects, bans, API keys, session and player revocations and
// the indexes over them, and nothing of another tenant.
func TestDropTenant(t *testing.T) {
	h, d := newHarness(t)
	setup := func(tenant, keyID string) {
		h.mustApply(createTenant(tenant), createProject(tenant, "g"),
			createBan(tenant, "b1", "", "p1", 0), createBan(tenant, "b2", "g", "p2", 3600),
			createKey(tenant, keyID, identity.RoleGameServer, "g", 0),
			revokeSession(tenant, "ses1", 0), revokePlayer(tenant, "p1", ""), revokePlayer(tenant, "p2", "g"))
	}
	setup("acme", "00000000000000a1")
	setup("other", "00000000000000b1")
	want := tenantData{bans: 2, keys: 1, sessions: 1, players: 2, projects: 1}
	if got := dataOf(t, d, "acme"); got != want {
		t.Fatalf("acme holds %+v, want %+v", got, want)
	}
	counts := h.fsm.Counts()

	h.mustApply(deleteTenant("acme"))
	index := h.index
	if got := h.fsm.Applied().Index(); got != index {
		t.Fatalf("index %d, want %d", got, index)
	}
	if _, ok := d.Identity.APIKey("00000000000000a1"); ok {
		t.Error("APIKey of the deleted tenant still found")
	}
	if _, ok := d.Bans.Ban("acme", "b1"); ok {
		t.Error("Ban of the deleted tenant still found")
	}
	if _, ok := d.Bans.ActiveBan("acme", "p1", "", h.now); ok {
		t.Error("ActiveBan still finds a ban of the deleted tenant")
	}
	if d.Identity.SessionRevoked("acme", "ses1", "p1", "", testEpoch) {
		t.Error("a revocation of the deleted tenant still applies")
	}
	if got := dataOf(t, d, "acme"); got != (tenantData{}) {
		t.Errorf("deleted tenant still holds %+v", got)
	}
	if got := dataOf(t, d, "other"); got != want {
		t.Errorf("other tenant holds %+v after acme's delete, want %+v", got, want)
	}
	if _, ok := d.Identity.APIKey("00000000000000b1"); !ok {
		t.Error("another tenant's key was dropped")
	}
	if !d.Identity.SessionRevoked("other", "ses1", "p1", "", testEpoch) {
		t.Error("another tenant's revocation was dropped")
	}
	after := h.fsm.Counts()
	for _, c := range []struct{ module, kind string }{
		{"bans", "bans"}, {"identity", "api_keys"}, {"identity", "session_revocations"}, {"identity", "player_revocations"},
		{"tenancy", "projects"}, {"tenancy", "tenants"},
	} {
		if got, was := after[c.module][c.kind], counts[c.module][c.kind]; got != was/2 {
			t.Errorf("Counts[%s][%s] = %d after the delete, want %d", c.module, c.kind, got, was/2)
		}
	}

	// Recreating the tenant starts empty, and its limits count afresh: the
	// key ID is free again.
	h.mustApply(createTenant("acme"), createKey("acme", "00000000000000a1", identity.RoleReadOnly, "", 0))
	if got := dataOf(t, d, "acme"); got != (tenantData{keys: 1}) {
		t.Errorf("recreated tenant holds %+v", got)
	}
}

// TestHandlerErrorLeavesModulesUnchanged applies commands that a handler
// refuses after the envelope checks passed: no module may change.
func TestHandlerErrorLeavesModulesUnchanged(t *testing.T) {
	tests := []struct {
		name string
		cmd  *cassnetv1.Command
		want error
	}{
		{"delete a missing tenant", deleteTenant("nope"), consensus.ErrNotFound},
		{"ban in a missing project", createBan("acme", "b9", "racer", "p9", 0), consensus.ErrNotFound},
		{"ban with a taken id", createBan("acme", "b1", "", "p9", 0), consensus.ErrConflict},
		{"key in a missing project", createKey("acme", "00000000000000bb", identity.RoleGameServer, "racer", 0), consensus.ErrNotFound},
		{"revoke the last operator token", revokeToken("0123456789abcdef"), consensus.ErrConflict},
		{"ban retention at state version 1", setBanRetention(3600), consensus.ErrStateVersion},
		{"rotate with if_none", rotateKey("kid9", true), consensus.ErrConflict},
		{"remove the primary gossip key", keyringCmd("remove", make([]byte, 32)), consensus.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d := newHarness(t)
			baseState(h)
			h.mustApply(identityState()...)
			h.mustApply(createToken("0123456789abcdef", make([]byte, 32)), keyringCmd("install", make([]byte, 32)))
			before, counts, data := h.fsm.Hash(), h.fsm.Counts(), persist(t, h.fsm)
			acme := dataOf(t, d, "acme")
			res := h.apply(tt.cmd)
			if !errors.Is(res.Err, tt.want) {
				t.Fatalf("Err = %v, want %v", res.Err, tt.want)
			}
			if h.fsm.Hash() != before {
				t.Fatal("a refused command changed the hash")
			}
			if got := dataOf(t, d, "acme"); got != acme {
				t.Fatalf("acme holds %+v, was %+v", got, acme)
			}
			if got := h.fsm.Counts(); !equalCounts(got, counts) {
				t.Fatalf("Counts %v, were %v", got, counts)
			}
			// Byte for byte the same state, but for the index.
			again := persist(t, h.fsm)
			if strings.Replace(string(again), `"index":`+strconv.FormatUint(h.index, 10), `"index":`+strconv.FormatUint(h.index-1, 10), 1) != string(data) {
				t.Fatal("a refused command changed the snapshot")
			}
		})
	}
}

func equalCounts(a, b map[string]map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for m, kinds := range a {
		if len(kinds) != len(b[m]) {
			return false
		}
		for k, n := range kinds {
			if b[m][k] != n {
				return false
			}
		}
	}
	return true
}

// TestValidateCommand checks the domains' field validators through
// FSM.ValidateCommand, as a proposer runs it before the log.
func TestValidateCommand(t *testing.T) {
	secret := make([]byte, 32)
	tests := []struct {
		name  string
		cmd   *cassnetv1.Command
		field string // "" when valid
	}{
		{"nil", nil, "command"},
		{"no op", newCmd(), "op"},
		{"create tenant", createTenant("a"), ""},
		{"create tenant bad", createTenant("A"), "name"},
		{"delete tenant bad", deleteTenant(""), "name"},
		{"create project", createProject("a", "b"), ""},
		{"create project bad tenant", createProject("", "b"), "tenant"},
		{"create project bad name", createProject("a", "B"), "name"},
		{"create ban", createBan("a", "ban_0123456789abcdef", "", "p", 0), ""},
		{"create ban project", createBan("a", "b", "g", "p", 1), ""},
		{"create ban bad project", createBan("a", "b", "G", "p", 1), "project"},
		{"create ban bad tenant", createBan("", "b", "", "p", 1), "tenant"},
		{"create ban bad id", createBan("a", "", "", "p", 1), "id"},
		{"create ban bad player", createBan("a", "b", "", "", 1), "player_id"},
		{"create ban negative", createBan("a", "b", "", "p", -5), "duration_seconds"},
		{"create ban bad reason", with(createBan("a", "b", "", "p", 0), func(c *cassnetv1.Command) {
			c.GetCreateBan().Reason = "\x00"
		}), "reason"},
		{"revoke ban", revokeBan("a", "b"), ""},
		{"revoke ban bad id", revokeBan("a", "B"), "id"},
		{"revoke ban bad tenant", revokeBan("", "b"), "tenant"},
		{"settings min", setSettings(1), ""},
		{"settings max", setSettings(settings.MaxAuditRetention), ""},
		{"settings zero", setSettings(0), "audit_retention"},
		{"ban retention", setBanRetention(3600), ""}, // the state version is Apply's business
		{"ban retention too short", setBanRetention(3599), "ban_retention_seconds"},
		{"ban retention too long", setBanRetention(10*365*24*3600 + 1), "ban_retention_seconds"},
		{"token", createToken("t1", secret), ""},
		{"token bad id", createToken("T1", secret), "id"},
		{"token long secret", createToken("t1", make([]byte, 33)), "secret_sha256"},
		{"token bad name", with(createToken("t1", secret), func(c *cassnetv1.Command) {
			c.GetCreateOperatorToken().Name = "\t"
		}), "name"},
		{"key", createKey("a", testKeyID, identity.RoleReadOnly, "", 0), ""},
		{"key bad name", with(createKey("a", testKeyID, identity.RoleReadOnly, "", 0), func(c *cassnetv1.Command) {
			c.GetCreateApiKey().Name = ""
		}), "name"},
		{"key negative expiry", createKey("a", testKeyID, identity.RoleReadOnly, "", -1), "expires_unix"},
		{"key short secret", with(createKey("a", testKeyID, identity.RoleReadOnly, "", 0), func(c *cassnetv1.Command) {
			c.GetCreateApiKey().SecretSha256 = secret[:31]
		}), "secret_sha256"},
		{"revoke key bad id", revokeKey("a", "x"), "id"},
		{"touch bad time", touchKeys(testKeyID, 0), "last_used_unix"},
		{"session bad id", revokeSession("a", "", 0), "session_id"},
		{"player bad project", revokePlayer("a", "p", "G"), "project"},
		{"auth failures no node", with(authFailures("anonymous", "x", "", 1), func(c *cassnetv1.Command) {
			c.GetRecordAuthFailures().Node = ""
		}), "node"},
		{"auth failures bad reason", authFailures("anonymous", "Bad Reason", "", 1), "reason"},
		{"auth failures bad tenant", authFailures("operator:"+testKeyID, "x", "T", 1), "tenant"},
		{"keyring bad action", keyringCmd("rotate", secret), "action"},
		{"keyring bad key", keyringCmd("use", secret[:10]), "key"},
		{"join token id mismatch", with(newCmd(), func(c *cassnetv1.Command) {
			c.Op = &cassnetv1.Command_CreateJoinToken{CreateJoinToken: &cassnetv1.CreateJoinToken{Id: "ffffffffffffffff", SecretSha256: secret}}
		}), "id"},
		{"revoke join token bad id", revokeJoinTokenCmd("nothex"), "id"},
		{"state version", setStateVersion(consensus.StateVersionDomains), ""},
		{"state version 1", setStateVersion(1), "version"},
	}
	h, _ := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.fsm.ValidateCommand(tt.cmd)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.field != "" && !errors.Is(err, consensus.ErrInvalid):
				t.Fatalf("err = %v, want ErrInvalid", err)
			case tt.field != "" && !strings.Contains(err.Error(), tt.field):
				t.Fatalf("error %q does not name the field %q", err, tt.field)
			}
		})
	}
}

// TestConcurrentUse runs every domain's readers and snapshot Persists
// while commands are applied, as Raft and the API do; the race detector
// checks that reads never share what Apply writes.
func TestConcurrentUse(t *testing.T) {
	h, d := newHarness(t)
	baseState(h)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); wg.Wait() })
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				d.Bans.ActiveBan("t1", "p1", "g0", testEpoch)
				d.Bans.Bans("t1", bans.Filter{PlayerID: "p2"})
				d.Audit.Entries("", 10)
				d.Tenancy.Tenants()
				d.Identity.APIKey("0000000000000001")
				d.Identity.SessionRevoked("t1", "ses1", "p1", "", testEpoch)
				d.Identity.SigningKeys()
				d.Operators.Tokens()
				d.Settings.Get()
				d.Cluster.GossipKeys()
				h.fsm.Hash()
			}
		})
	}
	for i, c := range randomLog(99, 2000) {
		h.apply(c)
		if i%500 == 0 {
			snap, err := h.fsm.Snapshot() // same goroutine as Apply, as in Raft
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer snap.Release()
				if err := snap.Persist(&discardSink{}); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// discardSink is a SnapshotSink that keeps nothing.
type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) Close() error                { return nil }
func (discardSink) ID() string                  { return "discard" }
func (discardSink) Cancel() error               { return nil }

// TestFSMApplyLogsMalformedEntry checks that a committed entry that fails
// validation is logged with its index, and without its payload (here an
// operator token's secret hash, 31 bytes so invalid).
func TestFSMApplyLogsMalformedEntry(t *testing.T) {
	var buf bytes.Buffer
	f, err := consensus.NewFSM(state.New().Modules(), slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := createToken("tok1", bytes.Repeat([]byte{0xab}, 31))
	c.TimeUnixNano = testEpoch.UnixNano()
	data, _ := consensus.EncodeCommand(c)
	res := f.Apply(&raft.Log{Index: 7, Data: data}).(*consensus.ApplyResult)
	if !errors.Is(res.Err, consensus.ErrInvalid) || res.Index != 7 || f.Applied().Index() != 7 {
		t.Fatalf("res = %+v, index %d", res, f.Applied().Index())
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "index=7") {
		t.Errorf("log = %q", out)
	}
	if strings.Contains(out, "abab") || strings.Contains(out, "q6ur") { // hex or base64 of the secret
		t.Errorf("log leaks the payload: %q", out)
	}
}
