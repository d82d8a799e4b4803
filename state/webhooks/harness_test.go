package webhooks_test

// A consensus.FSM fed as a Raft log would feed it (the part of
// state/harness_test.go this package needs).

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
)

var testEpoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t     testing.TB
	fsm   *consensus.FSM
	d     *state.Domains
	index uint64
	now   time.Time
}

// newHarness: every domain at state version 2, tenants acme (project
// arena) and other.
func newHarness(t testing.TB) *harness {
	t.Helper()
	d := state.New()
	fsm, err := consensus.NewFSM(d.Modules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fsm: fsm, d: d, now: testEpoch}
	h.must(op(&cassnetv1.Command{Op: &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: 3}}}),
		op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "acme"}}}),
		op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: "acme", Name: "arena"}}}),
		op(&cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "other"}}}))
	return h
}

func (h *harness) apply(cmd *cassnetv1.Command) error {
	h.t.Helper()
	h.index++
	h.now = h.now.Add(time.Second)
	cmd.TimeUnixNano = h.now.UnixNano()
	data, err := consensus.EncodeCommand(cmd)
	if err != nil {
		h.t.Fatalf("EncodeCommand: %v", err)
	}
	res, ok := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	if !ok || res == nil {
		h.t.Fatalf("Apply returned %+v", res)
	}
	return res.Err
}

func (h *harness) must(cmds ...*cassnetv1.Command) {
	h.t.Helper()
	for _, c := range cmds {
		if err := h.apply(c); err != nil {
			h.t.Fatalf("apply %v: %v", c, err)
		}
	}
}

// op stamps a command's envelope.
func op(c *cassnetv1.Command) *cassnetv1.Command {
	c.Version, c.Actor = consensus.CommandVersion, "op:alice"
	return c
}

func persist(t testing.TB, f *consensus.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func restoreInto(t testing.TB, data []byte) (*consensus.FSM, *state.Domains) {
	t.Helper()
	d := state.New()
	fsm, err := consensus.NewFSM(d.Modules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsm.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return fsm, d
}
