package fleets_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
)

// harness feeds commands to an FSM over every domain, as a Raft log
// would (see state/servers/servers_test.go).
type harness struct {
	t     *testing.T
	fsm   *consensus.FSM
	d     *state.Domains
	index uint64
	now   time.Time
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	d := state.New()
	fsm, err := consensus.NewFSM(d.Modules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fsm: fsm, d: d, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	h.must(cmd(&cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: 3}}),
		cmd(&cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "acme"}}),
		cmd(&cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: "acme", Name: "arena"}}))
	return h
}

func cmd(op any) *cassnetv1.Command {
	c := &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "operator:t"}
	switch o := op.(type) {
	case *cassnetv1.Command_SetStateVersion:
		c.Op = o
	case *cassnetv1.Command_CreateTenant:
		c.Op = o
	case *cassnetv1.Command_DeleteTenant:
		c.Op = o
	case *cassnetv1.Command_CreateProject:
		c.Op = o
	case *cassnetv1.Command_PutFleet:
		c.Op = o
	case *cassnetv1.Command_DeleteFleet:
		c.Op = o
	case *cassnetv1.Command_PlaceFleetServers:
		c.Op = o
	case *cassnetv1.Command_ReportFleetNode:
		c.Op = o
	case *cassnetv1.Command_SetServerState:
		c.Op = o
	case *cassnetv1.Command_SetNodeSchedulable:
		c.Op = o
	case *cassnetv1.Command_RegisterServer:
		c.Op = o
	default:
		panic(fmt.Sprintf("cmd: %T", op))
	}
	return c
}

func (h *harness) apply(c *cassnetv1.Command) error {
	h.t.Helper()
	h.index++
	h.now = h.now.Add(time.Second)
	c.TimeUnixNano = h.now.UnixNano()
	data, err := consensus.EncodeCommand(c)
	if err != nil {
		h.t.Fatal(err)
	}
	res := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	return res.Err
}

func (h *harness) must(cs ...*cassnetv1.Command) {
	h.t.Helper()
	for _, c := range cs {
		if err := h.apply(c); err != nil {
			h.t.Fatalf("apply %v: %v", c, err)
		}
	}
}

const specJSON = `{"command":["/opt/games/arena/server","-batchmode"],"env":{"MAP":"dust","SECRET":"s3cr3t"},
 "ports":[{"name":"game","protocol":"udp","range":"7000-7999"}],"labels":{"mode":"ctf"},
 "node_selector":{"region":"eu"},"buffer":{"ready":4},"max_servers":6,"max_per_node":3,
 "restart":{"max_restarts":5,"backoff_seconds":2},"resources":{"memory_mb":2048,"cpu_percent":100},
 "shutdown_grace_seconds":30}`

func putFleet(spec string) *cassnetv1.Command {
	return cmd(&cassnetv1.Command_PutFleet{PutFleet: &cassnetv1.PutFleet{Tenant: "acme", Project: "arena", Name: "ctf", SpecJson: []byte(spec)}})
}

func place(version uint64, slots ...string) *cassnetv1.Command {
	op := &cassnetv1.PlaceFleetServers{Tenant: "acme", Project: "arena", Fleet: "ctf", FleetVersion: version}
	for _, s := range slots {
		id, node, _ := strings.Cut(s, "@")
		op.Slots = append(op.Slots, &cassnetv1.PlaceFleetServers_Slot{Id: id, Node: node})
	}
	return cmd(&cassnetv1.Command_PlaceFleetServers{PlaceFleetServers: op})
}

func (h *harness) fleetServers() []servers.Server {
	return h.d.Servers.Servers("acme", servers.Filter{Fleet: "ctf"})
}

func TestParseSpec(t *testing.T) {
	s, err := fleets.ParseSpec([]byte(specJSON))
	if err != nil {
		t.Fatal(err)
	}
	if s.Want(0) != 4 || s.PerNode() != 3 || s.Grace() != 30*time.Second || !s.Matches(map[string]string{"region": "eu", "x": "y"}) || s.Matches(nil) {
		t.Fatalf("spec %+v", s)
	}
	if r := s.Redacted(); r.Env["SECRET"] != fleets.RedactedValue || s.Env["SECRET"] != "s3cr3t" {
		t.Fatalf("redacted %v, original %v", r.Env, s.Env)
	}
	bad := map[string]string{
		"relative":     `{"command":["server"],"buffer":{"ready":1},"max_servers":1}`,
		"unclean":      `{"command":["/opt/../bin/sh"],"buffer":{"ready":1},"max_servers":1}`,
		"env name":     `{"command":["/a"],"env":{"lower":"x"},"buffer":{"ready":1},"max_servers":1}`,
		"env CN_":      `{"command":["/a"],"env":{"CN_KEY":"x"},"buffer":{"ready":1},"max_servers":1}`,
		"port range":   `{"command":["/a"],"ports":[{"name":"g","protocol":"udp","range":"9-1"}],"buffer":{"ready":1},"max_servers":1}`,
		"protocol":     `{"command":["/a"],"ports":[{"name":"g","protocol":"sctp","range":"9"}],"buffer":{"ready":1},"max_servers":1}`,
		"both buffers": `{"command":["/a"],"buffer":{"ready":1,"percent":5},"max_servers":1}`,
		"no max":       `{"command":["/a"],"buffer":{"ready":1}}`,
		"per node":     `{"command":["/a"],"buffer":{"ready":1},"max_servers":1,"max_per_node":2}`,
		"unknown":      `{"command":["/a"],"buffer":{"ready":1},"max_servers":1,"replicas":3}`,
		"trailing":     `{"command":["/a"],"buffer":{"ready":1},"max_servers":1} {}`,
		"selector":     `{"command":["/a"],"node_selector":{"bad key!":"x"},"buffer":{"ready":1},"max_servers":1}`,
	}
	for name, b := range bad {
		if _, err := fleets.ParseSpec([]byte(b)); !errors.Is(err, consensus.ErrInvalid) {
			t.Errorf("%s: got %v, want invalid", name, err)
		}
	}
	pct, err := fleets.ParseSpec([]byte(`{"command":["/a"],"buffer":{"percent":25,"min_ready":2},"max_servers":100}`))
	if err != nil {
		t.Fatal(err)
	}
	if pct.Want(0) != 2 || pct.Want(10) != 3 || pct.Want(40) != 10 {
		t.Fatalf("percent buffer: %d %d %d", pct.Want(0), pct.Want(10), pct.Want(40))
	}
}

// TestPlaceNeverOverfills is two controllers (a stale leader and a new
// one) planning against the same state and proposing at once: the
// second entry sees the first and Apply places nothing beyond the buffer.
func TestPlaceNeverOverfills(t *testing.T) {
	h := newHarness(t)
	h.must(putFleet(specJSON))
	f, _ := h.d.Fleets.Fleet("acme", "arena", "ctf")
	h.must(place(f.Version, "a1@n1", "a2@n2", "a3@n3", "a4@n1"))
	if err := h.apply(place(f.Version, "b1@n2", "b2@n3", "b3@n1", "b4@n2")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("second controller: %v, want conflict", err)
	}
	if got := h.fleetServers(); len(got) != 4 {
		t.Fatalf("%d servers after two plans, want 4", len(got))
	}
	// Two allocated: the buffer wants 2 more, max_servers 6 allows them,
	// max_per_node 3 skips n1 (a1, a4 and the one it would get... it has 2).
	for _, id := range []string{"a1", "a2"} {
		h.must(cmd(&cassnetv1.Command_SetServerState{SetServerState: &cassnetv1.SetServerState{Tenant: "acme", Id: id, State: servers.StateAllocated, AllocationId: "alloc-" + id}}))
	}
	h.must(place(f.Version, "c1@n1", "c2@n1", "c3@n3"))
	c := count(h.fleetServers())
	if c["n1"] != 3 || len(h.fleetServers()) != 6 {
		t.Fatalf("after refill: by node %v, total %d (want n1 3 from max_per_node, total 6)", c, len(h.fleetServers()))
	}
	if err := h.apply(place(f.Version, "d1@n4")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("past max_servers: %v", err)
	}
	// An id used before is never placed again; a stale version is refused.
	h.must(cmd(&cassnetv1.Command_SetServerState{SetServerState: &cassnetv1.SetServerState{Tenant: "acme", Id: "a3", State: servers.StateShutdown}}))
	if err := h.apply(place(f.Version, "a1@n4")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("existing id: %v", err)
	}
	if err := h.apply(place(f.Version+100, "e1@n4")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	// A drained node gets nothing.
	h.must(cmd(&cassnetv1.Command_SetNodeSchedulable{SetNodeSchedulable: &cassnetv1.SetNodeSchedulable{Node: "n4"}}))
	if err := h.apply(place(f.Version, "e1@n4")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("drained node: %v", err)
	}
	h.must(place(f.Version, "e1@n2"))
}

func count(list []servers.Server) map[string]int {
	m := map[string]int{}
	for _, s := range list {
		m[s.Node]++
	}
	return m
}

func TestRegisterKeepsFleetAndDeleteRemoves(t *testing.T) {
	h := newHarness(t)
	h.must(putFleet(specJSON))
	f, _ := h.d.Fleets.Fleet("acme", "arena", "ctf")
	h.must(place(f.Version, "a1@n1", "a2@n2"))
	// The process registers from its environment, without a fleet.
	h.must(cmd(&cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{Tenant: "acme", Project: "arena", Id: "a1", Node: "n1", State: servers.StateStarting}}))
	if srv, _ := h.d.Servers.Server("acme", "a1"); srv.Fleet != "ctf" {
		t.Fatalf("re-registered server lost its fleet: %+v", srv)
	}
	h.must(cmd(&cassnetv1.Command_ReportFleetNode{ReportFleetNode: &cassnetv1.ReportFleetNode{Tenant: "acme", Project: "arena", Fleet: "ctf", Node: "n3", Kind: fleets.KindNoBinary, Error: "no such file"}}))
	if r := h.d.Fleets.Reports("acme", "arena", "ctf"); len(r) != 1 || r[0].Node != "n3" {
		t.Fatalf("reports %+v", r)
	}
	h.must(cmd(&cassnetv1.Command_DeleteFleet{DeleteFleet: &cassnetv1.DeleteFleet{Tenant: "acme", Project: "arena", Name: "ctf"}}))
	if n := len(h.fleetServers()); n != 0 {
		t.Fatalf("%d servers after delete", n)
	}
	if _, ok := h.d.Fleets.Fleet("acme", "arena", "ctf"); ok || len(h.d.Fleets.Reports("acme", "arena", "ctf")) != 0 {
		t.Fatal("fleet or reports left after delete")
	}
	h.must(putFleet(specJSON), cmd(&cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: "acme"}}))
	if len(h.d.Fleets.All()) != 0 {
		t.Fatal("fleet left after its tenant was deleted")
	}
}

// TestSnapshotRoundTrip: a fleet, its servers and a node report survive a
// snapshot into a fresh FSM with the same hash, and the restored node
// goes on refusing an overfill.
func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	empty := h.fsm.Hash()
	h.must(putFleet(specJSON))
	if h.fsm.Hash() == empty {
		t.Fatal("a fleet does not change the state hash")
	}
	f, _ := h.d.Fleets.Fleet("acme", "arena", "ctf")
	h.must(place(f.Version, "a1@n1", "a2@n2", "a3@n3", "a4@n1"),
		cmd(&cassnetv1.Command_ReportFleetNode{ReportFleetNode: &cassnetv1.ReportFleetNode{Tenant: "acme", Project: "arena", Fleet: "ctf", Node: "n3", Kind: fleets.KindPortsExhausted, Error: "game 7000-7999"}}))
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, h.index, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	g := newHarness(t)
	if err := g.fsm.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if g.fsm.Hash() != h.fsm.Hash() {
		t.Fatal("restored hash differs")
	}
	if r, ok := g.d.Fleets.Report("acme", "arena", "ctf", "n3"); !ok || r.Kind != fleets.KindPortsExhausted {
		t.Fatalf("report lost: %+v", r)
	}
	g.index, g.now = h.index, h.now
	if err := g.apply(place(f.Version, "b1@n2")); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("restored node placed past the buffer: %v", err)
	}
}
