package cluster_test

// A test harness that feeds commands to a consensus.FSM as a Raft log
// would, and command builders. Package state and each domain package hold
// a copy of this file, each keeping only the helpers it uses: test files
// cannot be shared between packages.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
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

func newCmd() *cassnetv1.Command {
	return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:alice"}
}

// with applies edits to a command, for the odd cases.
func with(c *cassnetv1.Command, edit func(*cassnetv1.Command)) *cassnetv1.Command {
	edit(c)
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
