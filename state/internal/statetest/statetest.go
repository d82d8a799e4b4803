// Package statetest is the test harness of the domain modules: it feeds
// commands to a consensus.FSM as a Raft log would (consecutive indexes, a
// leader clock one second per entry), persists and restores snapshots, and
// builds the commands every domain's tests need. It is for tests only and
// owns no state of its own; a domain's own command builders stay in its
// tests.
package statetest

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Epoch is the leader time of the first command a harness applies.
var Epoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// Harness feeds commands to an FSM as a Raft log would: consecutive
// indexes, and a leader clock that moves one second per entry.
type Harness struct {
	T       testing.TB
	FSM     *consensus.FSM
	Modules []consensus.Module
	Index   uint64
	Now     time.Time // leader time of the last entry applied
}

// New returns a harness over modules, at index 0.
func New(t testing.TB, modules []consensus.Module) *Harness {
	t.Helper()
	fsm, err := consensus.NewFSM(modules, nil)
	if err != nil {
		t.Fatalf("NewFSM: %v", err)
	}
	return &Harness{T: t, FSM: fsm, Modules: modules, Now: Epoch}
}

// ApplyRaw appends data to the log as the next entry.
func (h *Harness) ApplyRaw(data []byte) *consensus.ApplyResult {
	h.T.Helper()
	h.Index++
	h.Now = h.Now.Add(time.Second)
	res, ok := h.FSM.Apply(&raft.Log{Index: h.Index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	if !ok || res == nil {
		h.T.Fatalf("Apply returned %T, want *ApplyResult", res)
	}
	if res.Index != h.Index {
		h.T.Fatalf("ApplyResult.Index = %d, want %d", res.Index, h.Index)
	}
	return res
}

// Apply stamps cmd with the next leader time (unless it already has one)
// and applies it. The harness clock follows a stamped time that is ahead.
func (h *Harness) Apply(cmd *cassnetv1.Command) *consensus.ApplyResult {
	h.T.Helper()
	if cmd.TimeUnixNano == 0 {
		cmd.TimeUnixNano = h.Now.Add(time.Second).UnixNano()
	}
	data, err := consensus.EncodeCommand(cmd)
	if err != nil {
		h.T.Fatalf("EncodeCommand: %v", err)
	}
	return h.ApplyRaw(data)
}

// MustApply applies cmds and fails the test on the first refusal.
func (h *Harness) MustApply(cmds ...*cassnetv1.Command) {
	h.T.Helper()
	for _, c := range cmds {
		if res := h.Apply(c); res.Err != nil {
			h.T.Fatalf("apply %v: %v", c, res.Err)
		}
	}
}

// FreshHash is the hash of the modules' committed state, computed by a new
// FSM over them, so that no memo answers: tests that edit a module's
// state behind the FSM's back compare freshHash before and after.
func (h *Harness) FreshHash() string {
	h.T.Helper()
	fsm, err := consensus.NewFSM(h.Modules, nil)
	if err != nil {
		h.T.Fatalf("NewFSM: %v", err)
	}
	return fsm.Hash()
}

// Persist runs Snapshot and Persist into raft's in-memory snapshot store
// and returns the bytes written.
func Persist(t testing.TB, f *consensus.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	return PersistSnap(t, snap)
}

// PersistSnap persists snap into an in-memory store and returns its bytes.
func PersistSnap(t testing.TB, snap raft.FSMSnapshot) []byte {
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

// Restore restores f from data.
func Restore(t testing.TB, f *consensus.FSM, data []byte) {
	t.Helper()
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}

// NewCmd is an empty command of the current envelope version.
func NewCmd() *cassnetv1.Command {
	return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:alice"}
}

// With applies edits to a command, for the odd cases.
func With(c *cassnetv1.Command, edit func(*cassnetv1.Command)) *cassnetv1.Command {
	edit(c)
	return c
}

// CreateTenant is a CreateTenant command.
func CreateTenant(name string) *cassnetv1.Command {
	c := NewCmd()
	c.Op = &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: name}}
	return c
}

// SetStateVersion is a SetStateVersion command.
func SetStateVersion(v uint32) *cassnetv1.Command {
	c := NewCmd()
	c.Op = &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: v}}
	return c
}

// CreateProject is a CreateProject command.
func CreateProject(tenant, name string) *cassnetv1.Command {
	c := NewCmd()
	c.Op = &cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: tenant, Name: name}}
	return c
}

// DeleteTenant is a DeleteTenant command.
func DeleteTenant(name string) *cassnetv1.Command {
	c := NewCmd()
	c.Op = &cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: name}}
	return c
}
