package servers_test

// Tests of the replicated game-server lifecycle and allocation, through a
// consensus.FSM fed as a Raft log would feed it (the harness below is the
// part of state/harness_test.go this package needs: test files cannot be
// shared between packages).

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/state/tenancy"
)

var testEpoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness feeds commands to an FSM: consecutive indexes, and a leader
// clock that moves one second per entry (and by advance).
type harness struct {
	t     testing.TB
	fsm   *consensus.FSM
	d     *state.Domains
	index uint64
	now   time.Time
}

func newHarnessOver(t testing.TB, modules []consensus.Module) *harness {
	t.Helper()
	fsm, err := consensus.NewFSM(modules, nil)
	if err != nil {
		t.Fatalf("NewFSM: %v", err)
	}
	return &harness{t: t, fsm: fsm, now: testEpoch}
}

// newBare is a harness over every domain at state version 1, empty.
func newBare(t testing.TB) *harness {
	t.Helper()
	d := state.New()
	h := newHarnessOver(t, d.Modules())
	h.d = d
	return h
}

// newHarness is a harness over every domain at state version 3, with
// tenants acme (projects arena, lobby) and other (project arena).
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := newBare(t)
	h.mustApply(setStateVersion(3), createTenant("acme"), createProject("acme", "arena"),
		createProject("acme", "lobby"), createTenant("other"), createProject("other", "arena"))
	return h
}

func (h *harness) srv() *servers.Store { return h.d.Servers }

// advance moves the leader clock without applying anything.
func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// apply stamps cmd with the next leader time and applies it.
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
	if !ok || res == nil || res.Index != h.index {
		h.t.Fatalf("Apply returned %+v", res)
	}
	return res.Err
}

func (h *harness) mustApply(cmds ...*cassnetv1.Command) {
	h.t.Helper()
	for _, c := range cmds {
		if err := h.apply(c); err != nil {
			h.t.Fatalf("apply %v: %v", c, err)
		}
	}
}

// allocate applies an Allocate and returns the allocation it made.
func (h *harness) allocate(op *cassnetv1.Allocate) (servers.Allocation, error) {
	h.t.Helper()
	if err := h.apply(cmdOf(&cassnetv1.Command_Allocate{Allocate: op})); err != nil {
		return servers.Allocation{}, err
	}
	a, ok := h.srv().Allocation(op.GetTenant(), op.GetAllocationId())
	if !ok && op.GetIdempotencyKey() != "" {
		a, ok = h.srv().ByIdempotencyKey(op.GetTenant(), op.GetIdempotencyKey())
	}
	if !ok {
		h.t.Fatalf("allocate %v accepted, but no allocation is held", op)
	}
	return a, nil
}

func (h *harness) mustAllocate(op *cassnetv1.Allocate) servers.Allocation {
	h.t.Helper()
	a, err := h.allocate(op)
	if err != nil {
		h.t.Fatalf("allocate %v: %v", op, err)
	}
	return a
}

func (h *harness) state(tenant, id string) string {
	h.t.Helper()
	s, ok := h.srv().Server(tenant, id)
	if !ok {
		return "gone"
	}
	return s.State
}

func persist(t testing.TB, f *consensus.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
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

// Command builders.

func cmdOf(op any) *cassnetv1.Command {
	c := &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:alice"}
	switch o := op.(type) {
	case *cassnetv1.Command_CreateTenant:
		c.Op = o
	case *cassnetv1.Command_DeleteTenant:
		c.Op = o
	case *cassnetv1.Command_CreateProject:
		c.Op = o
	case *cassnetv1.Command_SetStateVersion:
		c.Op = o
	case *cassnetv1.Command_RegisterServer:
		c.Op = o
	case *cassnetv1.Command_SetServerState:
		c.Op = o
	case *cassnetv1.Command_UpdateServerPlayers:
		c.Op = o
	case *cassnetv1.Command_SetServerLabels:
		c.Op = o
	case *cassnetv1.Command_RemoveServer:
		c.Op = o
	case *cassnetv1.Command_MarkNodeServers:
		c.Op = o
	case *cassnetv1.Command_Allocate:
		c.Op = o
	case *cassnetv1.Command_SetNodeSchedulable:
		c.Op = o
	default:
		panic("cmdOf: unknown op")
	}
	return c
}

func setStateVersion(v uint32) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: v}})
}

func createTenant(name string) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: name}})
}

func deleteTenant(name string) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: name}})
}

func createProject(tenant, name string) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: tenant, Name: name}})
}

// gs describes a server to register.
type gs struct {
	tenant, project, fleet, id, node, state string
	capacity                                uint32
	labels                                  map[string]string
}

func register(g gs) *cassnetv1.Command {
	if g.tenant == "" {
		g.tenant = "acme"
	}
	if g.project == "" {
		g.project = "arena"
	}
	if g.state == "" {
		g.state = servers.StateReady
	}
	return cmdOf(&cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{
		Tenant: g.tenant, Project: g.project, Fleet: g.fleet, Id: g.id, Node: g.node,
		Address: "10.0.0.9", Ports: map[string]uint32{"game": 7777}, Labels: g.labels,
		Capacity: g.capacity, State: g.state,
	}})
}

func setState(tenant, id, to, ifState string, reserve uint32) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_SetServerState{SetServerState: &cassnetv1.SetServerState{
		Tenant: tenant, Id: id, State: to, IfState: ifState, ReserveSeconds: reserve}})
}

func players(tenant, id string, n uint32) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_UpdateServerPlayers{UpdateServerPlayers: &cassnetv1.UpdateServerPlayers{
		Entries: []*cassnetv1.UpdateServerPlayers_Entry{{Tenant: tenant, Id: id, Players: n}}}})
}

func markNode(node, action string) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_MarkNodeServers{MarkNodeServers: &cassnetv1.MarkNodeServers{Node: node, Action: action}})
}

func schedulable(node string, on bool) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_SetNodeSchedulable{SetNodeSchedulable: &cassnetv1.SetNodeSchedulable{Node: node, Schedulable: on}})
}

func removeServer(tenant, id string) *cassnetv1.Command {
	return cmdOf(&cassnetv1.Command_RemoveServer{RemoveServer: &cassnetv1.RemoveServer{Tenant: tenant, Id: id}})
}

var allocSeq int

// alloc is an Allocate of acme (every project) with a fresh id.
func alloc(sels ...*cassnetv1.Allocate_Selector) *cassnetv1.Allocate {
	allocSeq++
	return &cassnetv1.Allocate{Tenant: "acme", Selectors: sels, AllocationId: "alloc-" + itoa(allocSeq)}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func sel(state string, minFree uint32, labels map[string]string) *cassnetv1.Allocate_Selector {
	return &cassnetv1.Allocate_Selector{State: state, MinFreePlayers: minFree, Labels: labels}
}

// ---- Tests ----

func TestRefusedBeforeStateVersion2(t *testing.T) {
	h := newBare(t)
	h.mustApply(createTenant("acme"), createProject("acme", "arena"))
	for _, c := range []*cassnetv1.Command{
		register(gs{id: "s1", node: "n1"}),
		setState("acme", "s1", servers.StateReady, "", 0),
		players("acme", "s1", 1),
		removeServer("acme", "s1"),
		markNode("n1", servers.StateUnhealthy),
		cmdOf(&cassnetv1.Command_Allocate{Allocate: alloc()}),
		schedulable("n1", false),
		cmdOf(&cassnetv1.Command_SetServerLabels{SetServerLabels: &cassnetv1.SetServerLabels{Tenant: "acme", Id: "s1", Set: map[string]string{"a": "b"}}}),
	} {
		if err := h.apply(c); !errors.Is(err, consensus.ErrStateVersion) {
			t.Errorf("%T at state version 1: %v, want state_version", c.GetOp(), err)
		}
	}
	// Once raised, they apply.
	h.mustApply(setStateVersion(2), register(gs{id: "s1", node: "n1"}))
}

func TestAllocatePicksReadyServer(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s1", node: "n1", state: servers.StateStarting}),
		setState("acme", "s1", servers.StateReady, servers.StateStarting, 0))
	op := alloc()
	op.Labels, op.Annotations = map[string]string{"match": "m-42"}, map[string]string{"map": "dust"}
	a := h.mustAllocate(op)
	if a.ServerID != "s1" || a.Node != "n1" || a.State != servers.StateAllocated || a.Ports["game"] != 7777 ||
		a.Labels["match"] != "m-42" || a.Annotations["map"] != "dust" || !a.CreatedAt.Equal(h.now) || a.CreatedBy != "op:alice" {
		t.Fatalf("allocation = %+v", a)
	}
	s, _ := h.srv().Server("acme", "s1")
	if s.State != servers.StateAllocated || s.AllocationID != op.AllocationId || s.Labels["match"] != "m-42" || s.Annotations["map"] != "dust" {
		t.Fatalf("server = %+v", s)
	}
}

func TestAllocateExhaustsCapacity(t *testing.T) {
	const m, n = 3, 7
	h := newHarness(t)
	for i := range m {
		h.mustApply(register(gs{id: "s" + itoa(i), node: "n" + itoa(i%2)}))
	}
	got := map[string]bool{}
	for i := range n {
		a, err := h.allocate(alloc())
		if i < m {
			if err != nil {
				t.Fatalf("allocation %d: %v", i, err)
			}
			if got[a.ServerID] {
				t.Fatalf("server %s allocated twice", a.ServerID)
			}
			got[a.ServerID] = true
			continue
		}
		if !errors.Is(err, servers.ErrNoCapacity) {
			t.Fatalf("allocation %d over %d servers: %v, want no_capacity", i, m, err)
		}
	}
	if len(got) != m {
		t.Fatalf("%d distinct servers, want %d", len(got), m)
	}
}

func TestSelectorsInOrder(t *testing.T) {
	ctf, dm := map[string]string{"mode": "ctf"}, map[string]string{"mode": "dm"}
	tests := []struct {
		name string
		sels []*cassnetv1.Allocate_Selector
		want string // server id, or "" for no capacity
	}{
		{"first matches", []*cassnetv1.Allocate_Selector{sel("", 0, ctf), sel("", 0, dm)}, "ctf-1"},
		{"first wins though later also matches", []*cassnetv1.Allocate_Selector{sel("", 0, dm), sel("", 0, ctf)}, "dm-1"},
		{"later used when earlier match nothing", []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "br"}), sel("", 0, dm)}, "dm-1"},
		{"every label must match", []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "ctf", "region": "eu"}), sel("", 0, dm)}, "dm-1"},
		{"backfill selector first, none has room", []*cassnetv1.Allocate_Selector{sel(servers.StateAllocated, 4, ctf), sel(servers.StateReady, 0, ctf)}, "ctf-1"},
		{"no selector matches", []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "br"})}, ""},
		{"no selectors: any ready", nil, "ctf-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(register(gs{id: "ctf-1", node: "n1", capacity: 8, labels: ctf}),
				register(gs{id: "dm-1", node: "n1", capacity: 8, labels: dm}),
				register(gs{id: "full", node: "n1", capacity: 8, labels: ctf}))
			// "full" is allocated (self-allocation) with no room left.
			full := setState("acme", "full", servers.StateAllocated, "", 0)
			full.GetSetServerState().AllocationId = "self-full"
			h.mustApply(full, players("acme", "full", 8))
			a, err := h.allocate(alloc(tt.sels...))
			switch {
			case tt.want == "" && !errors.Is(err, servers.ErrNoCapacity):
				t.Fatalf("allocate: %v, %+v; want no_capacity", err, a)
			case tt.want != "" && (err != nil || a.ServerID != tt.want):
				t.Fatalf("allocate: %v, %+v; want %s", err, a, tt.want)
			}
		})
	}
}

func TestBackfill(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1", capacity: 10}), register(gs{id: "b", node: "n1", capacity: 10}),
		register(gs{id: "nocap", node: "n1"}))
	for range 3 {
		h.mustAllocate(alloc())
	}
	backfill := func(min uint32) *cassnetv1.Allocate {
		return alloc(sel(servers.StateAllocated, min, nil))
	}
	// All allocated with 0 players: a has 10 free and wins on the id.
	if a := h.mustAllocate(backfill(10)); a.ServerID != "a" {
		t.Fatalf("backfill(10) took %s", a.ServerID)
	}
	h.mustApply(players("acme", "a", 7), players("acme", "b", 5))
	tests := []struct {
		min  uint32
		want string
	}{
		{3, "a"}, {4, "b"}, {5, "b"}, {6, ""}, {0, "a"},
	}
	for _, tt := range tests {
		a, err := h.allocate(backfill(tt.min))
		if tt.want == "" {
			if !errors.Is(err, servers.ErrNoCapacity) {
				t.Errorf("backfill(%d): %v %+v, want no_capacity", tt.min, err, a)
			}
			continue
		}
		if err != nil || a.ServerID != tt.want {
			t.Errorf("backfill(%d): %v %+v, want %s", tt.min, err, a, tt.want)
		}
	}
	// A full server is never backfilled, nor is one without a capacity.
	h.mustApply(players("acme", "a", 10), players("acme", "b", 12))
	if _, err := h.allocate(backfill(0)); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("backfill of full servers: %v", err)
	}
	if s, _ := h.srv().Server("acme", "b"); s.FreePlayers() != 0 || s.Players != 12 {
		t.Fatalf("server b = %+v", s)
	}
}

func TestStrategies(t *testing.T) {
	tests := []struct {
		strategy string
		want     []string // node of each allocation in turn
	}{
		{"", []string{"n1", "n1", "n1", "n2", "n2", "n3"}},
		{servers.StrategyPacked, []string{"n1", "n1", "n1", "n2", "n2", "n3"}},
		{servers.StrategyDistributed, []string{"n1", "n2", "n3", "n1", "n2", "n1"}},
	}
	for _, tt := range tests {
		t.Run("strategy="+tt.strategy, func(t *testing.T) {
			h := newHarness(t)
			// n1 holds 3 servers, n2 2, n3 1.
			for _, s := range []struct{ id, node string }{
				{"a1", "n1"}, {"a2", "n1"}, {"a3", "n1"}, {"b1", "n2"}, {"b2", "n2"}, {"c1", "n3"},
			} {
				h.mustApply(register(gs{id: s.id, node: s.node}))
			}
			var got []string
			for range tt.want {
				op := alloc()
				op.Strategy = tt.strategy
				got = append(got, h.mustAllocate(op).Node)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("nodes %v, want %v", got, tt.want)
			}
		})
	}
	// Packed prefers the node that is already busiest, even over a lower
	// name; distributed the least busy.
	for _, tt := range []struct{ strategy, want string }{{servers.StrategyPacked, "n2"}, {servers.StrategyDistributed, "n1"}} {
		h := newHarness(t)
		h.mustApply(register(gs{id: "a1", node: "n1"}), register(gs{id: "b1", node: "n2"}), register(gs{id: "b2", node: "n2"}))
		h.mustAllocate(&cassnetv1.Allocate{Tenant: "acme", AllocationId: "first", Selectors: []*cassnetv1.Allocate_Selector{sel("", 0, nil)}})
		// a1 went to n1 (tie on busy, lower name); busy: n1=1. Free a1, allocate b1 by hand.
		h.mustApply(setState("acme", "a1", servers.StateReady, "", 0))
		b1 := setState("acme", "b1", servers.StateAllocated, "", 0)
		b1.GetSetServerState().AllocationId = "self-b1"
		h.mustApply(b1)
		op := alloc()
		op.Strategy = tt.strategy
		if got := h.mustAllocate(op).Node; got != tt.want {
			t.Errorf("%s with n2 busier: %s, want %s", tt.strategy, got, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	tests := []struct {
		name, project, fleet string
		want                 []string // servers allocated, in turn, until no capacity
	}{
		{"fleet", "", "blue", []string{"s2", "s4"}},
		{"project", "lobby", "", []string{"s3", "s4"}},
		{"project and fleet", "lobby", "blue", []string{"s4"}},
		{"every project", "", "", []string{"s1", "s2", "s3", "s4"}},
		{"no such fleet", "", "green", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(register(gs{id: "s1", node: "n1", project: "arena", fleet: "red"}),
				register(gs{id: "s2", node: "n1", project: "arena", fleet: "blue"}),
				register(gs{id: "s3", node: "n1", project: "lobby", fleet: "red"}),
				register(gs{id: "s4", node: "n1", project: "lobby", fleet: "blue"}),
				register(gs{tenant: "other", id: "o1", node: "n1", fleet: "blue"}))
			var got []string
			for {
				op := alloc()
				op.Project, op.Fleet = tt.project, tt.fleet
				a, err := h.allocate(op)
				if errors.Is(err, servers.ErrNoCapacity) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if a.Project != tt.project && tt.project != "" || a.Fleet != tt.fleet && tt.fleet != "" || a.Tenant != "acme" {
					t.Fatalf("allocation %+v outside the filter", a)
				}
				got = append(got, a.ServerID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("allocated %v, want %v", got, tt.want)
			}
			if h.state("other", "o1") != servers.StateReady {
				t.Fatal("another tenant's server was allocated")
			}
		})
	}
	// A project that does not exist is not found.
	h := newHarness(t)
	op := alloc()
	op.Project = "ghost"
	if _, err := h.allocate(op); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("allocate in a missing project: %v", err)
	}
}

func TestDrainedNode(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n2"}), schedulable("n1", false))
	if h.srv().Schedulable("n1") || !h.srv().Schedulable("n2") {
		t.Fatal("Schedulable after drain")
	}
	if d := h.srv().Drained(); len(d) != 1 || d[0].Node != "n1" || d[0].Schedulable || d[0].UpdatedBy != "op:alice" {
		t.Fatalf("Drained = %+v", d)
	}
	if a := h.mustAllocate(alloc()); a.Node != "n2" {
		t.Fatalf("allocated on %s, want n2", a.Node)
	}
	if _, err := h.allocate(alloc()); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate with only a drained node left: %v", err)
	}
	h.mustApply(schedulable("n1", true))
	if !h.srv().Schedulable("n1") || len(h.srv().Drained()) != 0 {
		t.Fatal("uncordon did not restore n1")
	}
	if a := h.mustAllocate(alloc()); a.ServerID != "a" {
		t.Fatalf("after uncordon allocated %s", a.ServerID)
	}
}

// TestRegisterOnDrainedNode: a drained node gets "no new allocations and
// no new servers" (command.proto, issue 11), yet RegisterServer does not
// look at the drained nodes.
func TestRegisterOnDrainedNode(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "old", node: "n1"}), schedulable("n1", false))
	if err := h.apply(register(gs{id: "new", node: "n1"})); !errors.Is(err, consensus.ErrConflict) {
		t.Errorf("a new server registered on a drained node: %v, want conflict", err)
	}
	// A server that was already there may re-register (a reconnect).
	if err := h.apply(register(gs{id: "old", node: "n1"})); err != nil {
		t.Errorf("re-register on a drained node: %v", err)
	}
}

func TestNeverAllocated(t *testing.T) {
	for _, st := range []string{servers.StateStarting, servers.StateUnhealthy, servers.StateDraining, servers.StateReserved} {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(register(gs{id: "s", node: "n1", capacity: 10, state: servers.StateStarting}))
			if st != servers.StateStarting {
				var reserve uint32
				if st == servers.StateReserved {
					reserve = 60
				}
				h.mustApply(setState("acme", "s", st, "", reserve))
			}
			for _, s := range []*cassnetv1.Allocate_Selector{sel("", 0, nil), sel(servers.StateAllocated, 0, nil)} {
				if _, err := h.allocate(alloc(s)); !errors.Is(err, servers.ErrNoCapacity) {
					t.Fatalf("allocate a %s server: %v", st, err)
				}
			}
			if h.state("acme", "s") != st {
				t.Fatalf("state %s, want %s", h.state("acme", "s"), st)
			}
		})
	}
}

func TestMarkNodeServers(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n1"}),
		register(gs{tenant: "other", id: "o", node: "n1"}), register(gs{id: "c", node: "n2"}),
		register(gs{id: "d", node: "n10"}))
	a := h.mustAllocate(alloc()) // a, on n1
	if a.ServerID != "a" {
		t.Fatalf("allocated %s", a.ServerID)
	}
	h.mustApply(markNode("n1", servers.StateUnhealthy))
	for _, s := range h.srv().OnNode("n1") {
		if s.State != servers.StateUnhealthy || s.AllocationID != "" {
			t.Errorf("after unhealthy: %+v", s)
		}
	}
	// "lost" (what the reaper proposes since fleets) is its own state.
	h.mustApply(markNode("n1", servers.StateLost))
	for _, s := range h.srv().OnNode("n1") {
		if s.State != servers.StateLost || s.AllocationID != "" {
			t.Errorf("after lost: %+v", s)
		}
	}
	if len(h.srv().OnNode("n1")) != 3 || h.state("acme", "c") != servers.StateReady || h.state("acme", "d") != servers.StateReady {
		t.Fatal("MarkNodeServers touched another node")
	}
	// Unhealthy servers are not allocated; the others still are.
	for _, want := range []string{"d", "c"} { // "n10" < "n2"
		if got := h.mustAllocate(alloc()).ServerID; got != want {
			t.Fatalf("allocated %s, want %s", got, want)
		}
	}
	if _, err := h.allocate(alloc()); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate: %v", err)
	}
	// The allocation record outlives the server's health.
	if _, ok := h.srv().Allocation("acme", a.ID); !ok {
		t.Fatal("allocation forgotten")
	}
	h.mustApply(markNode("n1", "remove"))
	if len(h.srv().OnNode("n1")) != 0 || h.state("acme", "a") != "gone" || h.state("other", "o") != "gone" {
		t.Fatal("remove left servers on n1")
	}
	if h.state("acme", "c") != servers.StateAllocated || len(h.srv().OnNode("n10")) != 1 {
		t.Fatal("remove touched another node")
	}
}

func TestSetServerStateCompareAndSet(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1", state: servers.StateStarting}))
	tests := []struct {
		to, ifState string
		wantErr     error
		wantState   string
	}{
		{servers.StateReady, servers.StateReady, consensus.ErrConflict, servers.StateStarting},
		{servers.StateReady, servers.StateStarting, nil, servers.StateReady},
		{servers.StateDraining, servers.StateStarting, consensus.ErrConflict, servers.StateReady},
		{servers.StateDraining, servers.StateReady, nil, servers.StateDraining},
		{servers.StateReserved, "", consensus.ErrConflict, servers.StateDraining}, // a draining server cannot be reserved
		{servers.StateReady, "", nil, servers.StateReady},
	}
	for i, tt := range tests {
		before := h.fsm.Hash()
		err := h.apply(setState("acme", "s", tt.to, tt.ifState, 30))
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Fatalf("%d: %s if %s: %v, want %v", i, tt.to, tt.ifState, err, tt.wantErr)
		}
		if got := h.state("acme", "s"); got != tt.wantState {
			t.Fatalf("%d: state %s, want %s", i, got, tt.wantState)
		}
		if err != nil && h.fsm.Hash() != before {
			t.Fatalf("%d: a refused compare-and-set changed the state", i)
		}
	}
	if err := h.apply(setState("acme", "ghost", servers.StateReady, "", 0)); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestReservationExpires(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1"}), setState("acme", "s", servers.StateReserved, servers.StateReady, 60))
	s, _ := h.srv().Server("acme", "s")
	if s.State != servers.StateReserved || s.ReservedUntil == nil || !s.ReservedUntil.Equal(h.now.Add(time.Minute)) {
		t.Fatalf("reserved server = %+v", s)
	}
	if _, err := h.allocate(alloc()); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate a reserved server: %v", err)
	}
	// Time passes, but nothing is applied: still reserved.
	h.advance(2 * time.Minute)
	if h.state("acme", "s") != servers.StateReserved {
		t.Fatal("reservation ended without an applied command")
	}
	// The next accepted command prunes it, at the leader's time.
	h.mustApply(createProject("acme", "tick"))
	if s, _ := h.srv().Server("acme", "s"); s.State != servers.StateReady || s.ReservedUntil != nil {
		t.Fatalf("after expiry: %+v", s)
	}
	if got := h.mustAllocate(alloc()).ServerID; got != "s" {
		t.Fatalf("allocated %s", got)
	}
	// A reservation renewed before it ends does not lapse at the first end.
	h.mustApply(register(gs{id: "r", node: "n1"}), setState("acme", "r", servers.StateReserved, "", 10))
	h.advance(5 * time.Second)
	h.mustApply(setState("acme", "r", servers.StateReserved, servers.StateReserved, 60))
	h.advance(10 * time.Second)
	h.mustApply(createProject("acme", "tock"))
	if h.state("acme", "r") != servers.StateReserved {
		t.Fatal("renewed reservation ended at the first expiry")
	}
}

func TestAllocationPruned(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1"}))
	op := alloc()
	op.IdempotencyKey = "m-1"
	a := h.mustAllocate(op)
	h.advance(servers.AllocationRetention - 10*time.Second)
	h.mustApply(createProject("acme", "tick"))
	if _, ok := h.srv().Allocation("acme", a.ID); !ok {
		t.Fatal("allocation pruned before its retention")
	}
	h.advance(10 * time.Second)
	h.mustApply(createProject("acme", "tock"))
	if _, ok := h.srv().Allocation("acme", a.ID); ok {
		t.Fatal("allocation kept after 24 h")
	}
	if _, ok := h.srv().ByIdempotencyKey("acme", "m-1"); ok {
		t.Fatal("idempotency key kept after 24 h")
	}
	if len(h.srv().Allocations("acme", servers.Filter{})) != 0 {
		t.Fatal("Allocations lists a pruned allocation")
	}
	// The key is free again: a new request allocates anew.
	h.mustApply(setState("acme", "s", servers.StateReady, "", 0))
	op2 := alloc()
	op2.IdempotencyKey = "m-1"
	if b := h.mustAllocate(op2); b.ID != op2.AllocationId {
		t.Fatalf("reuse of a pruned key answered %+v", b)
	}
}

func TestIdempotency(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s1", node: "n1"}), register(gs{id: "s2", node: "n1"}), register(gs{id: "s3", node: "n1"}))
	first := alloc()
	first.IdempotencyKey, first.Annotations = "m-42", map[string]string{"map": "dust"}
	a := h.mustAllocate(first)

	// A replay (another node's id, other metadata) changes nothing.
	before := h.fsm.Hash()
	replay := alloc()
	replay.IdempotencyKey, replay.Annotations = "m-42", map[string]string{"map": "nuke"}
	b := h.mustAllocate(replay)
	if b.ID != a.ID || b.ServerID != a.ServerID || b.Annotations["map"] != "dust" {
		t.Fatalf("replay answered %+v, want the first %+v", b, a)
	}
	if h.fsm.Hash() != before {
		t.Fatal("a replay changed the state")
	}
	if _, ok := h.srv().Allocation("acme", replay.AllocationId); ok {
		t.Fatal("a replay created a second allocation")
	}
	if got, ok := h.srv().ByIdempotencyKey("acme", "m-42"); !ok || got.ID != a.ID {
		t.Fatalf("ByIdempotencyKey = %+v, %v", got, ok)
	}
	// After the server returned to ready, a replay still answers the
	// first allocation and takes no server.
	h.mustApply(setState("acme", a.ServerID, servers.StateReady, servers.StateAllocated, 0))
	before = h.fsm.Hash()
	again := alloc()
	again.IdempotencyKey = "m-42"
	if c := h.mustAllocate(again); c.ID != a.ID {
		t.Fatalf("replay after ready answered %+v", c)
	}
	if h.fsm.Hash() != before || h.state("acme", a.ServerID) != servers.StateReady {
		t.Fatal("a replay after the server returned to ready allocated it")
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		if h.state("acme", id) != servers.StateReady {
			t.Fatalf("server %s is %s", id, h.state("acme", id))
		}
	}
	// The key is per tenant: another tenant's same key allocates.
	h.mustApply(register(gs{tenant: "other", id: "o1", node: "n1"}))
	o := alloc()
	o.Tenant, o.IdempotencyKey = "other", "m-42"
	if got := h.mustAllocate(o); got.ServerID != "o1" || got.Tenant != "other" {
		t.Fatalf("other tenant's allocation %+v", got)
	}
	// An allocation id may not be reused.
	dup := alloc()
	dup.AllocationId = a.ID
	if _, err := h.allocate(dup); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("reused allocation id: %v", err)
	}
}

func TestDropTenant(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1"}), register(gs{id: "b", node: "n1", state: servers.StateStarting}),
		register(gs{tenant: "other", id: "o", node: "n1"}))
	op := alloc()
	op.IdempotencyKey = "k"
	h.mustAllocate(op)
	oop := alloc()
	oop.Tenant, oop.IdempotencyKey = "other", "k"
	oa := h.mustAllocate(oop)
	h.mustApply(setState("acme", "b", servers.StateReserved, "", 60), deleteTenant("acme"))
	if len(h.srv().Servers("acme", servers.Filter{})) != 0 || len(h.srv().Allocations("acme", servers.Filter{})) != 0 {
		t.Fatal("acme's servers or allocations survived its deletion")
	}
	if _, ok := h.srv().ByIdempotencyKey("acme", "k"); ok {
		t.Fatal("acme's idempotency key survived")
	}
	if len(h.srv().OnNode("n1")) != 1 || h.state("other", "o") != servers.StateAllocated {
		t.Fatal("another tenant's server was dropped")
	}
	if got, ok := h.srv().ByIdempotencyKey("other", "k"); !ok || got.ID != oa.ID {
		t.Fatal("another tenant's allocation was dropped")
	}
	// Recreated, the tenant starts empty, and the reservation's expiry of
	// a dropped server does nothing.
	h.mustApply(createTenant("acme"), createProject("acme", "arena"))
	h.advance(2 * time.Minute)
	h.mustApply(register(gs{id: "a", node: "n1"}))
	if s, _ := h.srv().Server("acme", "a"); s.State != servers.StateReady || s.AllocationID != "" {
		t.Fatalf("recreated server %+v", s)
	}
	if _, ok := h.srv().Server("acme", "b"); ok {
		t.Fatal("a dropped server came back")
	}
	op2 := alloc()
	op2.IdempotencyKey = "k"
	if a := h.mustAllocate(op2); a.ID != op2.AllocationId {
		t.Fatalf("dropped key answered %+v", a)
	}
}

func TestHashEmptyWhileUnused(t *testing.T) {
	setup := []*cassnetv1.Command{setStateVersion(3), createTenant("acme"), createProject("acme", "arena")}
	ten := tenancy.New()
	without := newHarnessOver(t, []consensus.Module{ten})
	ten2 := tenancy.New()
	srvs := servers.New(ten2)
	with := newHarnessOver(t, []consensus.Module{ten2, srvs})
	without.mustApply(setup...)
	with.mustApply(setup...)
	if without.fsm.Hash() != with.fsm.Hash() {
		t.Fatal("an empty servers module changes the state hash")
	}
	// A refused allocation leaves it empty; a server makes it count; an
	// uncordon after a drain leaves it empty again.
	with.d = &state.Domains{Servers: srvs}
	if _, err := with.allocate(alloc()); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate: %v", err)
	}
	with.mustApply(schedulable("n1", false))
	if without.fsm.Hash() == with.fsm.Hash() {
		t.Fatal("a drained node does not reach the hash")
	}
	with.mustApply(schedulable("n1", true))
	if without.fsm.Hash() != with.fsm.Hash() {
		t.Fatal("an uncordoned node leaves a trace in the hash")
	}
	with.mustApply(register(gs{id: "s", node: "n1"}))
	if without.fsm.Hash() == with.fsm.Hash() {
		t.Fatal("a server does not reach the hash")
	}
	// Also over every domain: a failed Allocate leaves the hash as it was.
	h := newHarness(t)
	before := h.fsm.Hash()
	if _, err := h.allocate(alloc()); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate: %v", err)
	}
	if h.fsm.Hash() != before {
		t.Fatal("a failed Allocate changed the hash")
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "a", node: "n1", fleet: "blue", capacity: 10, labels: map[string]string{"mode": "ctf"}}),
		register(gs{id: "b", node: "n2", project: "lobby", capacity: 10}),
		register(gs{id: "c", node: "n2", state: servers.StateStarting}),
		register(gs{tenant: "other", id: "o", node: "n1"}),
		schedulable("n3", false))
	op := alloc()
	op.IdempotencyKey, op.Labels, op.Annotations = "m-1", map[string]string{"match": "m-1"}, map[string]string{"map": "dust"}
	a := h.mustAllocate(op)
	h.mustApply(players("acme", "a", 4), setState("acme", "c", servers.StateReserved, "", 120))
	data := persist(t, h.fsm)

	r := newBare(t)
	if err := r.fsm.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if r.fsm.Hash() != h.fsm.Hash() {
		t.Fatal("restored hash differs")
	}
	if got, _ := r.srv().Server("acme", "a"); got.Players != 4 || got.AllocationID != a.ID || got.Annotations["map"] != "dust" || got.Labels["match"] != "m-1" {
		t.Fatalf("restored server a = %+v", got)
	}
	if got, ok := r.srv().ByIdempotencyKey("acme", "m-1"); !ok || got.ID != a.ID {
		t.Fatalf("restored idempotency key: %+v %v", got, ok)
	}
	if r.srv().Schedulable("n3") || len(r.srv().Servers("acme", servers.Filter{})) != 3 {
		t.Fatal("restored drained nodes or servers differ")
	}
	if s1, s2 := h.srv().Summarize("acme", "arena"), r.srv().Summarize("acme", "arena"); s1.Servers != s2.Servers || s1.Players != s2.Players || s1.ByState[servers.StateAllocated] != s2.ByState[servers.StateAllocated] {
		t.Fatalf("summaries %+v, %+v", s1, s2)
	}
	// The derived indexes are rebuilt: both replicas go on identically
	// (packed placement, backfill, reservation expiry, pruning).
	r.index, r.now = h.index, h.now
	for _, x := range []*harness{h, r} {
		x.advance(5 * time.Minute)
		allocSeq = 100
		x.mustAllocate(alloc(sel(servers.StateAllocated, 6, nil)))
		x.mustAllocate(alloc())
		x.mustAllocate(alloc())
	}
	if r.fsm.Hash() != h.fsm.Hash() {
		t.Fatal("replicas diverge after a restore")
	}
	if r.state("acme", "c") != servers.StateAllocated {
		t.Fatalf("the restored reservation did not end: %s", r.state("acme", "c"))
	}
	// Equal replicas write equal snapshots.
	if got := persist(t, r.fsm); !bytes.Equal(persist(t, h.fsm), got) {
		t.Fatal("snapshots of equal replicas differ")
	}
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	prefix253 := long(63) + "." + long(63) + "." + long(63) + "." + long(61)
	tests := []struct {
		name  string
		edit  func(op *cassnetv1.Allocate)
		field string // "" for valid
	}{
		{"valid", func(*cassnetv1.Allocate) {}, ""},
		{"valid full", func(op *cassnetv1.Allocate) {
			op.Strategy = servers.StrategyDistributed
			op.Selectors = []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "ctf"}), sel(servers.StateAllocated, 4, map[string]string{prefix253 + "/" + long(63): long(63)})}
			op.Labels = map[string]string{"example.com/match": "m-42", "A_b.c-D": ""}
		}, ""},
		{"unknown strategy", func(op *cassnetv1.Allocate) { op.Strategy = "spread" }, "strategy"},
		{"unknown selector state", func(op *cassnetv1.Allocate) {
			op.Selectors = []*cassnetv1.Allocate_Selector{sel("", 0, nil), sel("idle", 0, nil)}
		}, "selectors[1].state"},
		{"selector state not allocatable", func(op *cassnetv1.Allocate) {
			op.Selectors = []*cassnetv1.Allocate_Selector{sel(servers.StateStarting, 0, nil)}
		}, "selectors[0].state"},
		{"min_free_players on ready", func(op *cassnetv1.Allocate) {
			op.Selectors = []*cassnetv1.Allocate_Selector{sel(servers.StateReady, 2, nil)}
		}, "selectors[0].min_free_players"},
		{"17 selectors", func(op *cassnetv1.Allocate) {
			for range servers.MaxSelectors + 1 {
				op.Selectors = append(op.Selectors, sel("", 0, nil))
			}
		}, "selectors"},
		{"selector label key bad", func(op *cassnetv1.Allocate) {
			op.Selectors = []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"-mode": "x"})}
		}, "selectors[0].labels"},
		{"selector label value bad", func(op *cassnetv1.Allocate) {
			op.Selectors = []*cassnetv1.Allocate_Selector{sel("", 0, map[string]string{"mode": "c t f"})}
		}, "selectors[0].labels"},
		{"label name 64", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{long(64): "x"} }, "metadata.labels"},
		{"label value 64", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"k": long(64)} }, "metadata.labels"},
		{"label value ends with dash", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"k": "v-"} }, "metadata.labels"},
		{"label prefix 254", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{prefix253 + "a/k": "v"} }, "metadata.labels"},
		{"label prefix uppercase", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"Example.com/k": "v"} }, "metadata.labels"},
		{"label prefix empty", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"/k": "v"} }, "metadata.labels"},
		{"label name empty", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"example.com/": "v"} }, "metadata.labels"},
		{"label two slashes", func(op *cassnetv1.Allocate) { op.Labels = map[string]string{"a/b/c": "v"} }, "metadata.labels"},
		{"too many labels", func(op *cassnetv1.Allocate) {
			op.Labels = map[string]string{}
			for i := range servers.MaxLabels + 1 {
				op.Labels["k"+itoa(i)] = "v"
			}
		}, "metadata.labels"},
		{"annotation key bad", func(op *cassnetv1.Allocate) { op.Annotations = map[string]string{"bad key": "v"} }, "metadata.annotations"},
		{"annotation control character", func(op *cassnetv1.Allocate) { op.Annotations = map[string]string{"map": "du\nst"} }, "metadata.annotations.map"},
		{"metadata over 16 KiB", func(op *cassnetv1.Allocate) {
			op.Annotations = map[string]string{"a": long(8 << 10), "b": long(8 << 10)}
		}, "metadata"},
		{"one annotation over 16 KiB", func(op *cassnetv1.Allocate) { op.Annotations = map[string]string{"a": long(16<<10 + 1)} }, "metadata.annotations.a"},
		{"bad project", func(op *cassnetv1.Allocate) { op.Project = "Arena" }, "project_id"},
		{"bad fleet", func(op *cassnetv1.Allocate) { op.Fleet = "blue fleet" }, "fleet"},
		{"bad idempotency key", func(op *cassnetv1.Allocate) { op.IdempotencyKey = "m 42" }, "idempotency_key"},
		{"long idempotency key", func(op *cassnetv1.Allocate) { op.IdempotencyKey = long(129) }, "idempotency_key"},
		{"missing allocation id", func(op *cassnetv1.Allocate) { op.AllocationId = "" }, "allocation_id"},
		{"bad tenant", func(op *cassnetv1.Allocate) { op.Tenant = "" }, "tenant"},
	}
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1"}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := alloc()
			tt.edit(op)
			err := servers.ValidateAllocate(op)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateAllocate: %v", err)
				}
				return
			}
			if !errors.Is(err, consensus.ErrInvalid) {
				t.Fatalf("ValidateAllocate: %v, want invalid_argument", err)
			}
			var ce *consensus.Error
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, tt.field+":") {
				t.Fatalf("message %q does not start with the field %q", err, tt.field)
			}
			// The FSM refuses it too, and nothing changes.
			before := h.fsm.Hash()
			if err := h.apply(cmdOf(&cassnetv1.Command_Allocate{Allocate: op})); !errors.Is(err, consensus.ErrInvalid) {
				t.Fatalf("apply: %v", err)
			}
			if h.fsm.Hash() != before || h.state("acme", "s") != servers.StateReady {
				t.Fatal("an invalid Allocate changed the state")
			}
		})
	}
}

// TestValidateOtherOps checks the other commands' validation names the
// field.
func TestValidateOtherOps(t *testing.T) {
	tests := []struct {
		name  string
		cmd   *cassnetv1.Command
		field string
	}{
		{"register without node", register(gs{id: "s"}), "node"},
		{"register allocated", register(gs{id: "s", node: "n1", state: servers.StateAllocated}), "state"},
		{"register bad id", register(gs{id: "s 1", node: "n1"}), "server_id"},
		{"register bad label", register(gs{id: "s", node: "n1", labels: map[string]string{"k": "-v"}}), "labels"},
		{"set unknown state", setState("acme", "s", "idle", "", 0), "state"},
		{"set unknown if_state", setState("acme", "s", servers.StateReady, "idle", 0), "if_state"},
		{"set back to starting", setState("acme", "s", servers.StateStarting, "", 0), "state"},
		{"reserve without seconds", setState("acme", "s", servers.StateReserved, "", 0), "reserve_seconds"},
		{"reserve over 24 h", setState("acme", "s", servers.StateReserved, "", 86401), "reserve_seconds"},
		{"self-allocate without id", setState("acme", "s", servers.StateAllocated, "", 0), "allocation_id"},
		{"mark node bad action", markNode("n1", "reboot"), "action"},
		{"drain without node", schedulable("", false), "node"},
	}
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1"}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.fsm.Hash()
			err := h.apply(tt.cmd)
			var ce *consensus.Error
			if !errors.Is(err, consensus.ErrInvalid) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, tt.field+":") {
				t.Fatalf("apply: %v, want invalid_argument naming %q", err, tt.field)
			}
			if h.fsm.Hash() != before {
				t.Fatal("an invalid command changed the state")
			}
		})
	}
}

// FuzzValidateAllocate: ValidateAllocate never panics, and accepts only
// requests whose labels and selectors are in range.
func FuzzValidateAllocate(f *testing.F) {
	f.Add([]byte("mode\x00ctf\x01example.com/k\x00v"), "packed", uint8(2), uint32(4))
	f.Add([]byte("/\x00\x01a/b/c\x00-\x01"), "", uint8(17), uint32(0))
	f.Add([]byte(strings.Repeat("x", 300)+"\x00é\x01k\x00\xff"), "distributed", uint8(1), uint32(1))
	f.Fuzz(func(t *testing.T, data []byte, strategy string, nsel uint8, minFree uint32) {
		// data is a list of key\x00value pairs separated by \x01.
		kv := map[string]string{}
		for _, pair := range strings.Split(string(data), "\x01") {
			k, v, _ := strings.Cut(pair, "\x00")
			kv[k] = v
		}
		states := []string{"", servers.StateReady, servers.StateAllocated, "idle", servers.StateStarting}
		op := &cassnetv1.Allocate{Tenant: "acme", AllocationId: "alloc-1", Strategy: strategy,
			Labels: kv, Annotations: kv, IdempotencyKey: string(data[:min(len(data), 8)])}
		for i := range int(nsel % 20) {
			op.Selectors = append(op.Selectors, &cassnetv1.Allocate_Selector{Labels: kv, State: states[i%len(states)], MinFreePlayers: minFree})
		}
		err := servers.ValidateAllocate(op)
		if err == nil {
			if len(op.Selectors) > servers.MaxSelectors {
				t.Fatalf("accepted %d selectors", len(op.Selectors))
			}
			for k, v := range kv {
				if len(v) > 63 || servers.ValidateLabelKey("k", k) != nil {
					t.Fatalf("accepted label %q=%q", k, v)
				}
			}
		} else if !errors.Is(err, consensus.ErrInvalid) {
			t.Fatalf("error %v is not invalid_argument", err)
		}
	})
}

func TestLabelsAndRemove(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1", labels: map[string]string{"mode": "dm", "old": "x"}}))
	ctf := sel("", 0, map[string]string{"mode": "ctf"})
	if _, err := h.allocate(alloc(ctf)); !errors.Is(err, servers.ErrNoCapacity) {
		t.Fatalf("allocate before relabel: %v", err)
	}
	h.mustApply(cmdOf(&cassnetv1.Command_SetServerLabels{SetServerLabels: &cassnetv1.SetServerLabels{
		Tenant: "acme", Id: "s", Set: map[string]string{"mode": "ctf"}, Remove: []string{"old"}}}))
	if s, _ := h.srv().Server("acme", "s"); s.Labels["mode"] != "ctf" || s.Labels["old"] != "" || len(s.Labels) != 1 {
		t.Fatalf("labels = %v", s.Labels)
	}
	if got := h.mustAllocate(alloc(ctf)).ServerID; got != "s" {
		t.Fatalf("allocated %s", got)
	}
	h.mustApply(removeServer("acme", "s"))
	if h.state("acme", "s") != "gone" || len(h.srv().OnNode("n1")) != 0 {
		t.Fatal("RemoveServer left the server")
	}
	if err := h.apply(removeServer("acme", "s")); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	// A shutdown forgets the server too.
	h.mustApply(register(gs{id: "t", node: "n1"}), setState("acme", "t", servers.StateShutdown, "", 0))
	if h.state("acme", "t") != "gone" {
		t.Fatal("shutdown kept the server")
	}
}

// TestSelfAllocateAllocatedServer: SetServerState{state: allocated} on a
// server that is already allocated answers success, yet records no
// allocation under the proposer's allocation_id (setState treats it as "no
// change"), so the caller holds an id that names nothing.
func TestSelfAllocateAllocatedServer(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s", node: "n1"}))
	first := h.mustAllocate(alloc())
	self := setState("acme", "s", servers.StateAllocated, "", 0)
	self.GetSetServerState().AllocationId = "self-1"
	err := h.apply(self)
	_, recorded := h.srv().Allocation("acme", "self-1")
	if err == nil && !recorded {
		t.Errorf("self-allocation of an allocated server succeeded without recording allocation %q", "self-1")
	}
	if s, _ := h.srv().Server("acme", "s"); err != nil && s.AllocationID != first.ID {
		t.Errorf("a refused self-allocation changed the server: %+v", s)
	}
}

// TestIdempotencyKeyOfAnotherProject: a request naming a project never
// gets (or learns about) another project's allocation through a key.
func TestIdempotencyKeyOfAnotherProject(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "l1", node: "n1", project: "lobby"}), register(gs{id: "a1", node: "n1", project: "arena"}))
	first := alloc()
	first.Project, first.IdempotencyKey = "lobby", "k"
	a := h.mustAllocate(first)
	other := alloc()
	other.Project, other.IdempotencyKey = "arena", "k"
	before := h.fsm.Hash()
	if _, err := h.allocate(other); !errors.Is(err, consensus.ErrConflict) || !strings.Contains(err.Error(), "another request") {
		t.Fatalf("key of another project: %v, want a conflict", err)
	}
	if h.fsm.Hash() != before || h.state("acme", "a1") != servers.StateReady {
		t.Fatal("the refused request changed the state")
	}
	same := alloc()
	same.Project, same.IdempotencyKey = "lobby", "k"
	if got, err := h.allocate(same); err != nil || got.ID != a.ID {
		t.Fatalf("replay in the same project: %v %v, want %s", got.ID, err, a.ID)
	}
}

// TestReadyIfAllocation: a Ready that names the allocation its match
// ended never ends a later one (a late or repeated Ready).
func TestReadyIfAllocation(t *testing.T) {
	h := newHarness(t)
	h.mustApply(register(gs{id: "s1", node: "n1"}))
	first := h.mustAllocate(alloc())
	ready := func(ending string) *cassnetv1.Command {
		c := setState("acme", "s1", servers.StateReady, "", 0)
		c.GetSetServerState().IfAllocationId = &ending
		return c
	}
	h.mustApply(ready(first.ID)) // the match ended
	second := h.mustAllocate(alloc())
	before := h.fsm.Hash()
	if err := h.apply(ready(first.ID)); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("a repeated Ready of the first match: %v, want a conflict", err)
	}
	if h.fsm.Hash() != before || h.state("acme", "s1") != servers.StateAllocated {
		t.Fatal("the repeated Ready ended the second match")
	}
	if err := h.apply(ready("")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("a Ready naming no allocation while one is held: %v, want a conflict", err)
	}
	h.mustApply(ready(second.ID))
	if h.state("acme", "s1") != servers.StateReady {
		t.Fatal("the Ready of the second match did not return the server")
	}
}
