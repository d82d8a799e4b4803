package consensus

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// The engine is tested over small fake modules defined here, so that
// consensus's tests depend on no domain package. Each fake keeps a
// copy-on-write map; its snapshot section is the map under the key of the
// module's name.
//
//   - alpha owns CreateTenant ("t/<name>"), DeleteTenant (which drops the
//     tenant in every TenantDropper) and CreateProject, which stages a
//     change in alpha and in beta and then fails for the name "fail" and
//     panics for the name "panic".
//   - beta owns CreateBan, which needs state version 2, drops a tenant's
//     "<tenant>/..." keys and, as a Pruner, records the leader time of the
//     last accepted command under "pruned_at".
//   - gamma is an EventSink: it records every event it is handed.
//
// No module handles RevokeBan, an operation of Command.

// fakeModule is a Module over a copy-on-write map.
type fakeModule struct {
	name     string
	register func(r *Router, m *fakeModule)
	cur      atomic.Pointer[map[string]string]
}

func newFake(name string, register func(*Router, *fakeModule)) *fakeModule {
	m := &fakeModule{name: name, register: register}
	m.cur.Store(&map[string]string{})
	return m
}

type fakeWrite struct {
	m  *fakeModule
	kv map[string]string
}

func (w *fakeWrite) Commit() { kv := w.kv; w.m.cur.Store(&kv) }

func (m *fakeModule) Name() string { return m.name }

func (m *fakeModule) Register(r *Router) {
	if m.register != nil {
		m.register(r, m)
	}
}

func (m *fakeModule) write(tx *Tx) *fakeWrite {
	return tx.Stage(m, func() Pending { return &fakeWrite{m: m, kv: maps.Clone(*m.cur.Load())} }).(*fakeWrite)
}

// view is the map as tx sees it.
func (m *fakeModule) view(tx *Tx) map[string]string {
	if w, ok := tx.Staged(m).(*fakeWrite); ok {
		return w.kv
	}
	return *m.cur.Load()
}

// get reads the committed map, as a module's read accessor does.
func (m *fakeModule) get(key string) (string, bool) {
	v, ok := (*m.cur.Load())[key]
	return v, ok
}

func (m *fakeModule) len() int { return len(*m.cur.Load()) }

func (m *fakeModule) Snapshot() Section { return fakeSection{name: m.name, kv: *m.cur.Load()} }

// Restore refuses a section holding the key "bad", so tests can make one
// module's restore fail.
func (m *fakeModule) Restore(tx *Tx, src SectionSource) error {
	kv := map[string]string{}
	if err := src.Decode(m.name, &kv); err != nil {
		return err
	}
	if _, bad := kv["bad"]; bad {
		return fmt.Errorf("%s: bad entry", m.name)
	}
	tx.Stage(m, func() Pending { return &fakeWrite{m: m, kv: kv} })
	return nil
}

type fakeSection struct {
	name string
	kv   map[string]string // never written once committed
}

func (s fakeSection) Hash(e *HashEncoder) {
	e.Section(s.name, len(s.kv))
	for _, k := range slices.Sorted(maps.Keys(s.kv)) {
		e.Str(k)
		e.Str(s.kv[k])
	}
}

func (s fakeSection) Write(w *SectionWriter) error { return w.Value(s.name, s.kv) }

func (s fakeSection) Counts() map[string]int { return map[string]int{s.name + "_items": len(s.kv)} }

// dropperModule is a fakeModule that is also a TenantDropper and a Pruner.
type dropperModule struct{ *fakeModule }

func (m dropperModule) DropTenant(tx *Tx, tenant string) {
	w := m.write(tx)
	for k := range w.kv {
		if strings.HasPrefix(k, tenant+"/") {
			delete(w.kv, k)
		}
	}
}

func (m dropperModule) Prune(tx *Tx) {
	m.write(tx).kv["pruned_at"] = tx.Time.Format(time.RFC3339Nano)
}

// sinkModule is a fakeModule that is also an EventSink.
type sinkModule struct{ *fakeModule }

func (m sinkModule) Consume(tx *Tx, events []Event) {
	w := m.write(tx)
	for i, e := range events {
		w.kv[fmt.Sprintf("e/%d/%d", tx.Index, i)] = strings.Join([]string{e.Actor, e.Action, e.Tenant, e.Target, e.Detail}, "|")
	}
}

// fakes is one set of fake modules and the FSM over them.
type fakes struct {
	alpha *fakeModule
	beta  dropperModule
	gamma sinkModule
	fsm   *FSM
}

func newFakes(t testing.TB) *fakes {
	t.Helper()
	f := &fakes{}
	f.beta = dropperModule{newFake("beta", func(r *Router, m *fakeModule) {
		Handle(r, m, Handler[*cassnetv1.CreateBan]{
			Validate:        func(op *cassnetv1.CreateBan) error { return ValidateName("id", op.GetId()) },
			Apply:           func(tx *Tx, op *cassnetv1.CreateBan) error { m.write(tx).kv["ban/"+op.GetId()] = tx.Actor; return nil },
			MinStateVersion: StateVersionDomains,
		})
	})}
	f.alpha = newFake("alpha", func(r *Router, m *fakeModule) {
		Handle(r, m, Handler[*cassnetv1.CreateTenant]{
			Validate: func(op *cassnetv1.CreateTenant) error { return ValidateName("name", op.GetName()) },
			Apply: func(tx *Tx, op *cassnetv1.CreateTenant) error {
				key := "t/" + op.GetName()
				if _, ok := m.view(tx)[key]; ok {
					return NewError(ErrConflict, "tenant %q already exists", op.GetName())
				}
				m.write(tx).kv[key] = tx.Actor
				tx.Emit(Event{Action: "tenant.create", Tenant: op.GetName(), Target: op.GetName()})
				return nil
			},
		})
		Handle(r, m, Handler[*cassnetv1.DeleteTenant]{
			Validate: func(op *cassnetv1.DeleteTenant) error { return ValidateName("name", op.GetName()) },
			Apply: func(tx *Tx, op *cassnetv1.DeleteTenant) error {
				key := "t/" + op.GetName()
				if _, ok := m.view(tx)[key]; !ok {
					return NewError(ErrNotFound, "tenant %q", op.GetName())
				}
				delete(m.write(tx).kv, key)
				tx.DropTenant(op.GetName())
				tx.Emit(Event{Actor: "someone-else", Action: "tenant.delete", Tenant: op.GetName(), Target: op.GetName()})
				return nil
			},
		})
		Handle(r, m, Handler[*cassnetv1.CreateProject]{
			Validate: func(op *cassnetv1.CreateProject) error {
				return FirstError(ValidateName("tenant", op.GetTenant()), ValidateName("name", op.GetName()))
			},
			Apply: func(tx *Tx, op *cassnetv1.CreateProject) error {
				// Stage in two modules, then (maybe) fail: nothing may stay.
				m.write(tx).kv["p/"+op.GetTenant()+"/"+op.GetName()] = tx.Actor
				f.beta.write(tx).kv[op.GetTenant()+"/"+op.GetName()] = tx.Actor
				tx.Emit(Event{Action: "project.create", Tenant: op.GetTenant(), Target: op.GetName()})
				switch op.GetName() {
				case "fail":
					return NewError(ErrConflict, "project %q refused", op.GetName())
				case "panic":
					panic("handler bug")
				}
				return nil
			},
		})
	})
	f.gamma = sinkModule{newFake("gamma", nil)}
	fsm, err := NewFSM([]Module{f.alpha, f.beta, f.gamma}, nil)
	if err != nil {
		t.Fatalf("NewFSM: %v", err)
	}
	f.fsm = fsm
	return f
}

// testEpoch is the leader time of the first command a harness applies.
var testEpoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness feeds commands to an FSM as a Raft log would: consecutive
// indexes, and a leader clock that moves one second per entry.
type harness struct {
	*fakes
	t     testing.TB
	index uint64
	now   time.Time // leader time of the last entry applied
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return &harness{fakes: newFakes(t), t: t, now: testEpoch}
}

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

func createBan(id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{Id: id, Tenant: "acme", PlayerId: "p1"}}
	return c
}

func revokeBan(tenant, id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeBan{RevokeBan: &cassnetv1.RevokeBan{Tenant: tenant, Id: id}}
	return c
}

func setStateVersion(v uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: v}}
	return c
}

// with applies edits to a command, for the odd cases.
func with(c *cassnetv1.Command, edit func(*cassnetv1.Command)) *cassnetv1.Command {
	edit(c)
	return c
}

// baseState is the state most engine tests start from: tenants "acme" and
// "other", each with a project "g".
func baseState(h *harness) {
	h.t.Helper()
	h.mustApply(createTenant("acme"), createTenant("other"), createProject("acme", "g"), createProject("other", "g"))
}
