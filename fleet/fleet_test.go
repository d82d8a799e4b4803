package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
)

// domains returns every domain with tenant acme, project arena, fleet
// ctf (spec) and the given fleet servers placed ("id@node").
func domains(t testing.TB, spec string, slots ...string) *state.Domains {
	t.Helper()
	d := state.New()
	fsm, err := consensus.NewFSM(d.Modules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, now := uint64(0), time.Now()
	apply := func(op any) {
		c := &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "operator:t"}
		switch o := op.(type) {
		case *cassnetv1.Command_SetStateVersion:
			c.Op = o
		case *cassnetv1.Command_CreateTenant:
			c.Op = o
		case *cassnetv1.Command_CreateProject:
			c.Op = o
		case *cassnetv1.Command_PutFleet:
			c.Op = o
		case *cassnetv1.Command_PlaceFleetServers:
			c.Op = o
		}
		idx++
		c.TimeUnixNano = now.UnixNano()
		data, err := consensus.EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if res := fsm.Apply(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult); res.Err != nil {
			t.Fatalf("apply %v: %v", c, res.Err)
		}
	}
	apply(&cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: 3}})
	apply(&cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "acme"}})
	apply(&cassnetv1.Command_CreateProject{CreateProject: &cassnetv1.CreateProject{Tenant: "acme", Name: "arena"}})
	apply(&cassnetv1.Command_PutFleet{PutFleet: &cassnetv1.PutFleet{Tenant: "acme", Project: "arena", Name: "ctf", SpecJson: []byte(spec)}})
	if len(slots) > 0 {
		f, _ := d.Fleets.Fleet("acme", "arena", "ctf")
		op := &cassnetv1.PlaceFleetServers{Tenant: "acme", Project: "arena", Fleet: "ctf", FleetVersion: f.Version}
		for _, s := range slots {
			id, node, _ := strings.Cut(s, "@")
			op.Slots = append(op.Slots, &cassnetv1.PlaceFleetServers_Slot{Id: id, Node: node})
		}
		apply(&cassnetv1.Command_PlaceFleetServers{PlaceFleetServers: op})
	}
	return d
}

const testSpec = `{"command":["/opt/gs"],"env":{"SECRET":"x"},"buffer":{"ready":4},"max_servers":10,"max_per_node":2,"node_selector":{"region":"eu"}}`

func member(name string, fleets bool, labels string, cpu uint8) mesh.Member {
	return mesh.Member{Meta: mesh.Meta{Name: name, Fleets: fleets, Labels: labels, Load: mesh.Load{CPU: cpu}}, Status: mesh.StatusAlive}
}

func TestPlan(t *testing.T) {
	d := domains(t, testSpec, "a1@n1")
	f, _ := d.Fleets.Fleet("acme", "arena", "ctf")
	recs := d.Servers.Servers("acme", servers.Filter{Fleet: "ctf"})
	members := []mesh.Member{
		member("n1", true, "region=eu", 10), member("n2", true, "region=eu", 50), member("n3", true, "region=eu", 5),
		member("us", true, "region=us", 0), member("off", false, "region=eu", 0),
		{Meta: mesh.Meta{Name: "dead", Fleets: true, Labels: "region=eu"}, Status: mesh.StatusFailed},
	}
	cfg := Config{ErrorBackoff: time.Minute, UnhealthyGrace: time.Minute, StartTimeout: time.Hour}
	n := 0
	id := func() string { n++; return fmt.Sprint("s", n) }
	drained := func(node string) bool { return node != "n3" }
	reports := []fleets.NodeReport{{Node: "n2", Kind: fleets.KindNoBinary, At: time.Now()}}
	p := plan(f, recs, members, drained, reports, time.Now(), cfg, id)
	// n3 is drained, n2 failed recently, us does not match, off has no
	// fleets, dead is dead: only n1, which has a1 and room for one more.
	if len(p.Place) != 1 || p.Place[0].Node != "n1" {
		t.Fatalf("plan %+v", p.Place)
	}
	// Without the report and the drain: 3 more, fewest servers first, then
	// the lowest load: n3 (5%), n2 (50%), then n3 again (one each, and it
	// is less loaded than n1).
	p = plan(f, recs, members, func(string) bool { return true }, nil, time.Now(), cfg, id)
	var got []string
	for _, s := range p.Place {
		got = append(got, s.Node)
	}
	if strings.Join(got, ",") != "n3,n2,n3" {
		t.Fatalf("placement %v", got)
	}
}

func TestPlanRetiresOnlyReady(t *testing.T) {
	d := domains(t, `{"command":["/opt/gs"],"buffer":{"ready":1},"max_servers":10}`, "a1@n1")
	f, _ := d.Fleets.Fleet("acme", "arena", "ctf")
	recs := []servers.Server{
		{ID: "r1", Node: "n1", State: servers.StateReady}, {ID: "r2", Node: "n1", State: servers.StateReady},
		{ID: "al", Node: "n1", State: servers.StateAllocated}, {ID: "st", Node: "n2", State: servers.StateStarting, CreatedAt: time.Now()},
	}
	cfg := Config{ErrorBackoff: time.Minute, UnhealthyGrace: time.Minute, StartTimeout: time.Hour}
	p := plan(f, recs, nil, func(string) bool { return true }, nil, time.Now(), cfg, func() string { return "x" })
	if len(p.Place) != 0 || len(p.Retire) != 2 {
		t.Fatalf("plan %+v", p)
	}
	for _, id := range p.Retire {
		if id != "r1" && id != "r2" {
			t.Fatalf("retires %s, which is not ready", id)
		}
	}
}

// TestPlanLost: a lost server (its node failed) does not count toward the
// buffer, so the buffer refills elsewhere; its record stays while its node
// is failed (the reaper removes it) and goes after the grace once the
// node is alive again without having re-asserted it.
func TestPlanLost(t *testing.T) {
	d := domains(t, `{"command":["/opt/gs"],"buffer":{"ready":2},"max_servers":10}`, "a1@n1")
	f, _ := d.Fleets.Fleet("acme", "arena", "ctf")
	old := time.Now().Add(-time.Hour)
	recs := []servers.Server{
		{ID: "l1", Node: "n2", State: servers.StateLost, UpdatedAt: old},
		{ID: "l2", Node: "n2", State: servers.StateLost, UpdatedAt: old},
	}
	failed := mesh.Member{Meta: mesh.Meta{Name: "n2", Fleets: true}, Status: mesh.StatusFailed}
	members := []mesh.Member{member("n1", true, "", 0), failed}
	cfg := Config{ErrorBackoff: time.Minute, UnhealthyGrace: time.Minute, StartTimeout: time.Hour}
	p := plan(f, recs, members, func(string) bool { return true }, nil, time.Now(), cfg, func() string { return "x" })
	if len(p.Place) != 2 || len(p.Remove) != 0 || len(p.Retire) != 0 {
		t.Fatalf("node failed: plan %+v", p)
	}
	members[1].Status = mesh.StatusAlive
	p = plan(f, recs, members, func(string) bool { return true }, nil, time.Now(), cfg, func() string { return "x" })
	if len(p.Remove) != 2 {
		t.Fatalf("node back: plan %+v", p)
	}
}

// agentWith is an Agent on node n1 of d that runs the given servers.
func agentWith(t testing.TB, d *state.Domains, ids ...string) *Agent {
	t.Helper()
	keys, err := newKeyring()
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{node: "n1", keys: keys, procs: map[string]*proc{}, cfg: Config{Servers: d.Servers, Fleets: d.Fleets}}
	for _, id := range ids {
		a.procs[id] = &proc{tenant: "acme", project: "arena", fleet: "ctf", id: id}
	}
	return a
}

func TestServerKey(t *testing.T) {
	d := domains(t, testSpec, "a1@n1", "a2@n2")
	a := agentWith(t, d, "a1", "a2")
	rec, _ := d.Servers.Server("acme", "a1")
	key := a.keys.key(rec)
	p, ok := a.AuthenticateServerKey(key)
	if !ok || p.Server != "a1" || p.Tenant != "acme" || p.Project != "arena" || !p.GameServer() {
		t.Fatalf("principal %+v ok %v", p, ok)
	}
	other, _ := d.Servers.Server("acme", "a2")
	// The MAC's last two characters, changed: a key that happens to end
	// in "AA" (1 in 4,096) would otherwise be "tampered" into itself.
	tampered := key[:len(key)-2] + "AA"
	if tampered == key {
		tampered = key[:len(key)-2] + "BB"
	}
	for name, cred := range map[string]string{
		"another node's server": a.keys.key(other),
		"tampered":              tampered,
		"another server's mac":  "cnsk_a2." + key[strings.LastIndexByte(key, '.')+1:],
		"no mac":                "cnsk_a1",
		"another agent":         agentWith(t, d, "a1").keys.key(rec),
	} {
		if _, ok := a.AuthenticateServerKey(cred); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzServerKey: no input panics, and nothing but the real key of a
// server this agent runs is accepted.
func FuzzServerKey(f *testing.F) {
	d := domains(f, testSpec, "a1@n1")
	a := agentWith(f, d, "a1")
	rec, _ := d.Servers.Server("acme", "a1")
	key := a.keys.key(rec)
	f.Add(key)
	f.Add("cnsk_a1.")
	f.Add("cnsk_.x")
	f.Fuzz(func(t *testing.T, cred string) {
		if _, ok := a.AuthenticateServerKey(cred); ok && cred != key {
			t.Fatalf("accepted %q", cred)
		}
	})
}

// failingStore refuses every proposal (a node cut off from a quorum) and
// counts them.
type failingStore struct{ n int }

func (f *failingStore) Apply(context.Context, *cassnetv1.Command) (uint64, error) {
	f.n++
	return 0, raft.ErrNotLeader
}
func (f *failingStore) IsLeader() bool { return false }

// TestSyncRetriesExitedRemove: a server that ended its match while its
// node could not commit keeps its record; every sync proposes the removal
// again (before, the record waited for the controller's grace).
func TestSyncRetriesExitedRemove(t *testing.T) {
	d := domains(t, testSpec, "a1@n1")
	a := agentWith(t, d, "a1")
	st := &failingStore{}
	a.cfg.Store, a.log = st, slog.New(slog.DiscardHandler)
	a.sync(context.Background())
	if st.n != 0 {
		t.Fatalf("%d proposals for a running server", st.n)
	}
	a.procs["a1"].exited = true
	a.sync(context.Background())
	a.sync(context.Background())
	if st.n != 2 {
		t.Fatalf("%d proposals, want a removal per sync", st.n)
	}
}
