package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// testEpoch is the leader time of the first command a harness applies.
var testEpoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness feeds commands to an FSM as a Raft log would: consecutive
// indexes, and a leader clock that moves one second per entry.
type harness struct {
	t     testing.TB
	fsm   *FSM
	index uint64
	now   time.Time // leader time of the last entry applied
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return &harness{t: t, fsm: NewFSM(NewState(), nil), now: testEpoch}
}

func (h *harness) state() *State { return h.fsm.State() }

// applyRaw appends data to the log as the next entry.
func (h *harness) applyRaw(data []byte) *ApplyResult {
	h.t.Helper()
	h.index++
	h.now = h.now.Add(time.Second)
	res, ok := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(*ApplyResult)
	if !ok || res == nil {
		h.t.Fatalf("Apply returned %T, want *ApplyResult", res)
	}
	if res.Index != h.index {
		h.t.Fatalf("ApplyResult.Index = %d, want %d", res.Index, h.index)
	}
	return res
}

// apply stamps cmd with the next leader time (unless it already has one)
// and applies it.
func (h *harness) apply(cmd *cassnetv1.Command) *ApplyResult {
	h.t.Helper()
	if cmd.TimeUnixNano == 0 {
		cmd.TimeUnixNano = h.now.Add(time.Second).UnixNano()
	}
	data, err := EncodeCommand(cmd)
	if err != nil {
		h.t.Fatalf("EncodeCommand: %v", err)
	}
	return h.applyRaw(data)
}

func (h *harness) mustApply(cmds ...*cassnetv1.Command) {
	h.t.Helper()
	for _, c := range cmds {
		if res := h.apply(c); res.Err != nil {
			h.t.Fatalf("apply %v: %v", c, res.Err)
		}
	}
}

// Command builders. Each returns a version-1 command from actor "op:alice"
// with no time, so the harness stamps it.

func newCmd() *cassnetv1.Command {
	return &cassnetv1.Command{Version: CommandVersion, Actor: "op:alice"}
}

func createTenant(name string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: name}}
	return c
}

func deleteTenant(name string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: name}}
	return c
}

func createProject(tenant, name string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: tenant, Name: name}}
	return c
}

func createBan(tenant, id, project, player string, seconds int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
		Id: id, Tenant: tenant, Project: project, PlayerId: player,
		Reason: "cheating", DurationSeconds: seconds,
	}}
	return c
}

func revokeBan(tenant, id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeBan{RevokeBan: &cassnetv1.RevokeBan{Tenant: tenant, Id: id}}
	return c
}

func setSettings(retention uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{AuditRetention: retention}}
	return c
}

func createToken(id string, secret []byte) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateOperatorToken{CreateOperatorToken: &cassnetv1.CreateOperatorToken{
		Id: id, Name: "ci", SecretSha256: secret,
	}}
	return c
}

// with applies edits to a command, for the odd cases.
func with(c *cassnetv1.Command, edit func(*cassnetv1.Command)) *cassnetv1.Command {
	edit(c)
	return c
}

// baseState is the state most command tests start from: tenants "acme"
// and "other", project acme/shooter, an active tenant-wide ban "b1" and a
// revoked ban "b2".
func baseState(h *harness) {
	h.t.Helper()
	h.mustApply(
		createTenant("acme"),
		createTenant("other"),
		createProject("acme", "shooter"),
		createBan("acme", "b1", "", "p1", 0),
		createBan("acme", "b2", "shooter", "p2", 3600),
		revokeBan("acme", "b2"),
	)
}

func TestFSMApplyCommands(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		cmd     *cassnetv1.Command
		raw     []byte // applied instead of cmd when set
		wantErr error
		// for accepted commands: the audit entry's action, tenant, target
		action, tenant, target string
		check                  func(t *testing.T, h *harness)
	}{
		{name: "create tenant", cmd: createTenant("new"), action: "tenant.create", tenant: "new", target: "new",
			check: func(t *testing.T, h *harness) {
				got, ok := h.state().Tenant("new")
				if !ok || got.CreatedBy != "op:alice" || !got.CreatedAt.Equal(h.now) {
					t.Errorf("Tenant = %+v, %v", got, ok)
				}
			}},
		{name: "create tenant conflict", cmd: createTenant("acme"), wantErr: ErrConflict},
		{name: "create tenant invalid", cmd: createTenant("Acme"), wantErr: ErrInvalid},
		{name: "delete tenant", cmd: deleteTenant("acme"), action: "tenant.delete", tenant: "acme", target: "acme",
			check: func(t *testing.T, h *harness) {
				if _, err := h.state().Projects("acme"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Projects after delete: %v", err)
				}
				// Recreating the tenant must not resurrect its bans or index.
				h.mustApply(createTenant("acme"))
				if _, ok := h.state().ActiveBan("acme", "p1", "", h.now); ok {
					t.Error("ban survived tenant delete")
				}
				if bans, _ := h.state().Bans("acme", BanFilter{}); len(bans) != 0 {
					t.Errorf("bans after recreate: %v", bans)
				}
			}},
		{name: "delete tenant missing", cmd: deleteTenant("nope"), wantErr: ErrNotFound},
		{name: "delete tenant invalid", cmd: deleteTenant(""), wantErr: ErrInvalid},
		{name: "create project", cmd: createProject("acme", "racer"), action: "project.create", tenant: "acme", target: "racer",
			check: func(t *testing.T, h *harness) {
				if p, ok := h.state().Project("acme", "racer"); !ok || p.Tenant != "acme" {
					t.Errorf("Project = %+v, %v", p, ok)
				}
			}},
		{name: "create project same name other tenant", cmd: createProject("other", "shooter"), action: "project.create", tenant: "other", target: "shooter"},
		{name: "create project missing tenant", cmd: createProject("nope", "racer"), wantErr: ErrNotFound},
		{name: "create project conflict", cmd: createProject("acme", "shooter"), wantErr: ErrConflict},
		{name: "create project invalid", cmd: createProject("acme", "-x"), wantErr: ErrInvalid},
		{name: "create ban permanent", cmd: createBan("acme", "b3", "", "p3", 0), action: "ban.create", tenant: "acme", target: "b3",
			check: func(t *testing.T, h *harness) {
				b, ok := h.state().Ban("acme", "b3")
				if !ok || b.ExpiresAt != nil || b.PlayerID != "p3" || b.CreatedBy != "op:alice" || !b.CreatedAt.Equal(h.now) {
					t.Errorf("Ban = %+v, %v", b, ok)
				}
			}},
		{name: "create ban project timed", cmd: createBan("acme", "b3", "shooter", "p3", 60), action: "ban.create", tenant: "acme", target: "b3",
			check: func(t *testing.T, h *harness) {
				b, _ := h.state().Ban("acme", "b3")
				if b.ExpiresAt == nil || !b.ExpiresAt.Equal(h.now.Add(time.Minute)) || b.ExpiresAt.Location() != time.UTC {
					t.Errorf("ExpiresAt = %v, want %v UTC", b.ExpiresAt, h.now.Add(time.Minute))
				}
			}},
		{name: "create ban max duration", cmd: createBan("acme", "b3", "", "p3", int64(MaxBanDuration/time.Second)), action: "ban.create", tenant: "acme", target: "b3"},
		{name: "create ban same id other tenant", cmd: createBan("other", "b1", "", "p1", 0), action: "ban.create", tenant: "other", target: "b1"},
		{name: "create ban missing tenant", cmd: createBan("nope", "b3", "", "p3", 0), wantErr: ErrNotFound},
		{name: "create ban missing project", cmd: createBan("acme", "b3", "racer", "p3", 0), wantErr: ErrNotFound},
		{name: "create ban project of other tenant", cmd: createBan("other", "b3", "shooter", "p3", 0), wantErr: ErrNotFound},
		{name: "create ban duplicate id", cmd: createBan("acme", "b1", "", "p9", 0), wantErr: ErrConflict},
		{name: "create ban negative duration", cmd: createBan("acme", "b3", "", "p3", -1), wantErr: ErrInvalid},
		{name: "create ban too long", cmd: createBan("acme", "b3", "", "p3", int64(MaxBanDuration/time.Second)+1), wantErr: ErrInvalid},
		{name: "create ban bad player", cmd: createBan("acme", "b3", "", "p 3", 0), wantErr: ErrInvalid},
		{name: "create ban bad id", cmd: createBan("acme", "B3", "", "p3", 0), wantErr: ErrInvalid},
		{name: "create ban bad reason", cmd: with(createBan("acme", "b3", "", "p3", 0), func(c *cassnetv1.Command) {
			c.GetCreateBan().Reason = "line\nbreak"
		}), wantErr: ErrInvalid},
		{name: "revoke ban", cmd: revokeBan("acme", "b1"), action: "ban.revoke", tenant: "acme", target: "b1",
			check: func(t *testing.T, h *harness) {
				b, _ := h.state().Ban("acme", "b1")
				if b.RevokedAt == nil || !b.RevokedAt.Equal(h.now) || b.RevokedBy != "op:alice" {
					t.Errorf("Ban = %+v", b)
				}
				if _, ok := h.state().ActiveBan("acme", "p1", "", h.now); ok {
					t.Error("revoked ban still active")
				}
			}},
		{name: "revoke ban missing", cmd: revokeBan("acme", "b9"), wantErr: ErrNotFound},
		{name: "revoke ban other tenant", cmd: revokeBan("other", "b1"), wantErr: ErrNotFound},
		{name: "revoke ban missing tenant", cmd: revokeBan("nope", "b1"), wantErr: ErrNotFound},
		{name: "revoke ban already revoked", cmd: revokeBan("acme", "b2"), wantErr: ErrConflict},
		{name: "set settings", cmd: setSettings(2), action: "settings.set", target: "audit_retention",
			check: func(t *testing.T, h *harness) {
				if got := h.state().Settings().AuditRetention; got != 2 {
					t.Errorf("AuditRetention = %d", got)
				}
				if got := len(h.state().Audit("", 0)); got != 2 {
					t.Errorf("audit kept %d entries, want 2", got)
				}
			}},
		{name: "set settings zero", cmd: setSettings(0), wantErr: ErrInvalid},
		{name: "set settings too large", cmd: setSettings(MaxAuditRetention + 1), wantErr: ErrInvalid},
		{name: "create token", cmd: createToken("tok1", secret), action: "operator_token.create", target: "tok1",
			check: func(t *testing.T, h *harness) {
				tok, ok := h.state().OperatorToken("tok1")
				if !ok || !bytes.Equal(tok.SecretSHA256, secret) || tok.Name != "ci" {
					t.Errorf("OperatorToken = %+v, %v", tok, ok)
				}
				h.mustApply(createToken("tok2", secret))
				if res := h.apply(createToken("tok1", secret)); !errors.Is(res.Err, ErrConflict) {
					t.Errorf("duplicate token: %v", res.Err)
				}
			}},
		{name: "create token short secret", cmd: createToken("tok1", secret[:31]), wantErr: ErrInvalid},
		{name: "create token bad id", cmd: createToken("", secret), wantErr: ErrInvalid},
		{name: "version 0", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 0 }), wantErr: ErrInvalid},
		{name: "version 2", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Version = 2 }), wantErr: ErrInvalid},
		{name: "no op", cmd: newCmd(), wantErr: ErrInvalid},
		{name: "no leader time", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.TimeUnixNano = -1 }), wantErr: ErrInvalid},
		{name: "actor with control char", cmd: with(createTenant("new"), func(c *cassnetv1.Command) { c.Actor = "a\x1b[31m" }), wantErr: ErrInvalid},
		{name: "undecodable", raw: []byte{0xff, 0xff, 0xff}, wantErr: ErrInvalid},
		// Field 17 is an operation this node does not know yet.
		{name: "unknown op", raw: []byte{0x08, 0x01, 0x10, 0x01, 0x8a, 0x01, 0x00}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			before, auditBefore := h.state().Hash(), len(h.state().Audit("", 0))
			var res *ApplyResult
			if tt.raw != nil {
				res = h.applyRaw(tt.raw)
			} else {
				res = h.apply(tt.cmd)
			}
			if got := h.state().Index(); got != h.index {
				t.Fatalf("Index = %d, want %d", got, h.index)
			}
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) {
					t.Fatalf("Err = %v, want %v", res.Err, tt.wantErr)
				}
				if after := h.state().Hash(); after != before {
					t.Fatal("rejected command changed the state")
				}
				if n := len(h.state().Audit("", 0)); n != auditBefore {
					t.Fatalf("rejected command was audited: %d -> %d entries", auditBefore, n)
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			if h.state().Hash() == before {
				t.Fatal("accepted command did not change the hash")
			}
			want := AuditEntry{Index: h.index, Time: h.now, Actor: "op:alice", Action: tt.action, Tenant: tt.tenant, Target: tt.target}
			if got := h.state().Audit("", 1); len(got) != 1 || got[0] != want {
				t.Fatalf("newest audit = %+v, want %+v", got, want)
			}
			if tt.check != nil {
				tt.check(t, h)
			}
		})
	}
}

func TestFSMApplyLogsMalformedEntry(t *testing.T) {
	var buf bytes.Buffer
	f := NewFSM(nil, slog.New(slog.NewTextHandler(&buf, nil)))
	c := createToken("tok1", bytes.Repeat([]byte{0xab}, 31)) // invalid: 31 bytes
	c.TimeUnixNano = testEpoch.UnixNano()
	data, _ := EncodeCommand(c)
	res := f.Apply(&raft.Log{Index: 7, Data: data}).(*ApplyResult)
	if !errors.Is(res.Err, ErrInvalid) || res.Index != 7 || f.State().Index() != 7 {
		t.Fatalf("res = %+v, index %d", res, f.State().Index())
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "index=7") {
		t.Errorf("log = %q", out)
	}
	if strings.Contains(out, "abab") || strings.Contains(out, "q6ur") { // hex or base64 of the secret
		t.Errorf("log leaks the payload: %q", out)
	}
}

func BenchmarkApplyCreateBan(b *testing.B) {
	h := newHarness(b)
	h.mustApply(createTenant("acme"))
	logs := make([]*raft.Log, b.N)
	for i := range logs {
		c := createBan("acme", fmt.Sprintf("ban-%d", i), "", fmt.Sprintf("player-%d", i%10000), 3600)
		c.TimeUnixNano = testEpoch.Add(time.Duration(i) * time.Millisecond).UnixNano()
		data, err := EncodeCommand(c)
		if err != nil {
			b.Fatal(err)
		}
		logs[i] = &raft.Log{Index: uint64(i) + 2, Data: data}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, l := range logs {
		if res := h.fsm.Apply(l).(*ApplyResult); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}
