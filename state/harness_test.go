package state_test

// A test harness that feeds commands to a consensus.FSM as a Raft log
// would, and command builders. Package state and each domain package hold
// a copy of this file, each keeping only the helpers it uses: test files
// cannot be shared between packages.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
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

// persist runs Snapshot and Persist into raft's in-memory snapshot store
// and returns the bytes written.
func persist(t testing.TB, f *consensus.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	return persistSnap(t, snap)
}

func persistSnap(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func restore(t testing.TB, f *consensus.FSM, data []byte) {
	t.Helper()
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
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

func setSettings(retention uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{AuditRetention: retention}}
	return c
}

func setSessionTTL(seconds uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{MaxSessionTtlSeconds: seconds}}
	return c
}

func setBanRetention(seconds uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{BanRetentionSeconds: seconds}}
	return c
}

func setStateVersion(v uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: v}}
	return c
}

func createToken(id string, secret []byte) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateOperatorToken{CreateOperatorToken: &cassnetv1.CreateOperatorToken{
		Id: id, Name: "ci", SecretSha256: secret,
	}}
	return c
}

func revokeToken(id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeOperatorToken{RevokeOperatorToken: &cassnetv1.RevokeOperatorToken{Id: id}}
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

func authFailures(credential, reason, tenant string, count uint32) *cassnetv1.Command {
	c := newCmd()
	c.Actor = "node:n1"
	c.Op = &cassnetv1.Command_RecordAuthFailures{RecordAuthFailures: &cassnetv1.RecordAuthFailures{
		Node: "n1", Entries: []*cassnetv1.AuthFailure{{Credential: credential, Reason: reason, Tenant: tenant, Count: count}},
	}}
	return c
}

func keyringCmd(action string, key []byte) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_UpdateGossipKeyring{UpdateGossipKeyring: &cassnetv1.UpdateGossipKeyring{Action: action, Key: key}}
	return c
}

// joinTokenCmd returns a CreateJoinToken for secret and the token's ID.
func joinTokenCmd(secret string, expires int64) (*cassnetv1.Command, string) {
	sum := sha256.Sum256([]byte(secret))
	c := newCmd()
	id := hex.EncodeToString(sum[:8])
	c.Op = &cassnetv1.Command_CreateJoinToken{CreateJoinToken: &cassnetv1.CreateJoinToken{Id: id, SecretSha256: sum[:], ExpiresUnix: expires}}
	return c, id
}

func revokeJoinTokenCmd(id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeJoinToken{RevokeJoinToken: &cassnetv1.RevokeJoinToken{Id: id}}
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
