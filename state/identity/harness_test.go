package identity_test

// A test harness that feeds commands to a consensus.FSM as a Raft log
// would, and command builders. Package state and each domain package hold
// a copy of this file, each keeping only the helpers it uses: test files
// cannot be shared between packages.

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// testEpoch is the leader time of the first command a harness applies.
var testEpoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness feeds commands to an FSM as a Raft log would: consecutive
// indexes, and a leader clock that moves one second per entry.
type harness struct {
	t       testing.TB
	fsm     *consensus.FSM
	modules []consensus.Module
	index   uint64
	now     time.Time // leader time of the last entry applied
}

func newHarnessOver(t testing.TB, modules []consensus.Module) *harness {
	t.Helper()
	fsm, err := consensus.NewFSM(modules, nil)
	if err != nil {
		t.Fatalf("NewFSM: %v", err)
	}
	return &harness{t: t, fsm: fsm, modules: modules, now: testEpoch}
}

// applyRaw appends data to the log as the next entry.
func (h *harness) applyRaw(data []byte) *consensus.ApplyResult {
	h.t.Helper()
	h.index++
	h.now = h.now.Add(time.Second)
	res, ok := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	if !ok || res == nil {
		h.t.Fatalf("Apply returned %T, want *ApplyResult", res)
	}
	if res.Index != h.index {
		h.t.Fatalf("ApplyResult.Index = %d, want %d", res.Index, h.index)
	}
	return res
}

// apply stamps cmd with the next leader time (unless it already has one)
// and applies it. The harness clock follows a stamped time that is ahead.
func (h *harness) apply(cmd *cassnetv1.Command) *consensus.ApplyResult {
	h.t.Helper()
	if cmd.TimeUnixNano == 0 {
		cmd.TimeUnixNano = h.now.Add(time.Second).UnixNano()
	}
	data, err := consensus.EncodeCommand(cmd)
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

// freshHash is the hash of the modules' committed state, computed by a new
// FSM over them, so that no memo answers: tests that edit a module's
// state behind the FSM's back compare freshHash before and after.
func (h *harness) freshHash() string {
	h.t.Helper()
	fsm, err := consensus.NewFSM(h.modules, nil)
	if err != nil {
		h.t.Fatalf("NewFSM: %v", err)
	}
	return fsm.Hash()
}

// Command builders. Each returns a version-1 command from actor "op:alice"
// with no time, so the harness stamps it.

const testKeyID = "00000000000000aa"

func newCmd() *cassnetv1.Command {
	return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:alice"}
}

// with applies edits to a command, for the odd cases.
func with(c *cassnetv1.Command, edit func(*cassnetv1.Command)) *cassnetv1.Command {
	edit(c)
	return c
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

func setSessionTTL(seconds uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{MaxSessionTtlSeconds: seconds}}
	return c
}

func createKey(tenant, id, role, project string, expiresUnix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateApiKey{CreateApiKey: &cassnetv1.CreateAPIKey{
		Id: id, Tenant: tenant, Name: "ci key", Role: role, Project: project,
		SecretSha256: bytes.Repeat([]byte{1}, 32), ExpiresUnix: expiresUnix,
	}}
	return c
}

func revokeKey(tenant, id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeApiKey{RevokeApiKey: &cassnetv1.RevokeAPIKey{Tenant: tenant, Id: id}}
	return c
}

func touchKeys(id string, unix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_TouchApiKeys{TouchApiKeys: &cassnetv1.TouchAPIKeys{
		Entries: []*cassnetv1.KeyUse{{Id: id, LastUsedUnix: unix}},
	}}
	return c
}

func rotateKey(kid string, ifNone bool) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RotateSigningKey{RotateSigningKey: &cassnetv1.RotateSigningKey{
		Kid: kid, PrivateKey: bytes.Repeat([]byte{byte(len(kid))}, 32), IfNone: ifNone,
	}}
	return c
}

func revokeSession(tenant, sid string, expiresUnix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeSession{RevokeSession: &cassnetv1.RevokeSession{
		Tenant: tenant, SessionId: sid, ExpiresUnix: expiresUnix,
	}}
	return c
}

func revokePlayer(tenant, player, project string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokePlayerSessions{RevokePlayerSessions: &cassnetv1.RevokePlayerSessions{
		Tenant: tenant, PlayerId: player, Project: project,
	}}
	return c
}

// baseState is the state most command tests start from: tenants "acme"
// and "other", project acme/shooter, an active tenant-wide ban "b1" and a
// revoked ban "b2". It needs the tenancy and bans modules.
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

// identityState is applied on top of baseState: a game-server key scoped
// to acme/shooter, an active signing key, a session revocation and a
// player revocation in acme/shooter. It needs the identity module.
func identityState() []*cassnetv1.Command {
	return []*cassnetv1.Command{
		createKey("acme", testKeyID, "game-server", "shooter", 0),
		touchKeys(testKeyID, testEpoch.Unix()),
		rotateKey("kid1", true),
		revokeSession("acme", "ses1", 0),
		revokePlayer("acme", "p1", "shooter"),
	}
}

// perturb changes v, a field of a stored record, to a different value of
// its type, for the tests that check the state hash covers every field.
func perturb(t *testing.T, v reflect.Value) {
	t.Helper()
	switch x := v.Addr().Interface().(type) {
	case *string:
		*x += "x"
	case *uint64:
		*x++
	case *uint32:
		*x++
	case *int:
		*x++
	case *[]byte:
		*x = append(slices.Clone(*x), 1)
	case *time.Time:
		*x = x.Add(time.Nanosecond)
	case **time.Time:
		if *x == nil {
			*x = &testEpoch
		} else {
			*x = nil
		}
	default:
		t.Fatalf("perturb: no rule for %s", v.Type())
	}
}

// hashCoversFields runs one subtest per field of T: edit must change that
// field (through perturb) in a stored record behind the FSM's back, and
// the state hash must notice. Walking the fields by reflection makes the
// test fail when a field is added without a line in the hash encoder.
func hashCoversFields[T any](t *testing.T, setup func(t *testing.T) *harness, edit func(h *harness, fn func(*T))) {
	t.Helper()
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		t.Run(typ.Name()+"."+typ.Field(i).Name, func(t *testing.T) {
			h := setup(t)
			before := h.freshHash()
			edit(h, func(rec *T) { perturb(t, reflect.ValueOf(rec).Elem().Field(i)) })
			if h.freshHash() == before {
				t.Fatalf("changing %s.%s does not change the hash", typ.Name(), typ.Field(i).Name)
			}
		})
	}
}
