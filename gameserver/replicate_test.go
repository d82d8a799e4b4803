package gameserver

import (
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// fakeMembers is a mesh whose statuses the test sets.
type fakeMembers struct {
	mu sync.Mutex
	ms []mesh.Member
}

func (f *fakeMembers) Members() []mesh.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mesh.Member(nil), f.ms...)
}

func (f *fakeMembers) set(ms ...mesh.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ms = ms
}

func member(name string, st mesh.Status) mesh.Member {
	m := mesh.Member{Status: st}
	m.Name = name
	return m
}

// newReplicated is a harness whose Server replicates through the fake
// store, at state version 2.
func newReplicated(t *testing.T, members *fakeMembers, grace time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, func(h *harness, c *Config) {
		h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: 3}}})
		c.Store, c.Records, c.ReapGrace = h.store, h.store.state.Servers, grace
		if members != nil {
			c.Members = members
		}
	})
}

func (h *harness) record(id string) servers.Server {
	h.t.Helper()
	rec, ok := h.store.state.Servers.Server("acme", id)
	if !ok {
		h.t.Fatalf("no replicated record of %s", id)
	}
	return rec
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			h.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplicatedLifecycle(t *testing.T) {
	h := newReplicated(t, nil, 0)
	key := h.key("acme", "game-server", "")
	ctx := h.ctx(key)
	h.register(key, "srv-1", "blue")
	if rec := h.record("srv-1"); rec.State != "starting" || rec.Node != "node-a" || rec.Capacity != 16 || rec.Ports["game"] != 7777 {
		t.Fatalf("record after register: %+v", rec)
	}
	// A ping stream keeps it healthy meanwhile.
	ping, err := h.client.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopPing := make(chan struct{})
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		for {
			if ping.Send(&cassnetv1.HealthPing{ServerId: "srv-1"}) != nil {
				return
			}
			select {
			case <-stopPing:
				return
			case <-time.After(30 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stopPing); <-pingDone }()

	if _, err := h.client.SetLabel(ctx, &cassnetv1.SetLabelRequest{ServerId: "srv-1", Key: "mode", Value: "ctf"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.SetLabel(ctx, &cassnetv1.SetLabelRequest{ServerId: "srv-1", Key: "bad key!", Value: "x"}); err == nil {
		t.Fatal("a malformed label key was accepted")
	}
	if _, err := h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: "srv-1"}); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("srv-1"); rec.State != "ready" || rec.Labels["mode"] != "ctf" {
		t.Fatalf("record after ready: %+v", rec)
	}

	events, err := h.client.WatchEvents(ctx, &cassnetv1.WatchEventsRequest{ServerId: "srv-1"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *cassnetv1.ServerEvent, 16)
	go func() {
		for {
			ev, err := events.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- ev
		}
	}()
	next := func(want string) *cassnetv1.ServerEvent {
		t.Helper()
		for {
			select {
			case ev, ok := <-got:
				if !ok {
					t.Fatalf("stream ended waiting for %s", want)
				}
				if ev.GetAllocated() != nil && want == "allocated" || ev.GetDrain() != nil && want == "drain" {
					return ev
				}
			case <-time.After(time.Second):
				t.Fatalf("no %s event within 1 s", want)
			}
		}
	}

	// An allocation applied by consensus reaches the server within 1 s.
	start := time.Now()
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_Allocate{Allocate: &cassnetv1.Allocate{
		Tenant: "acme", Selectors: []*cassnetv1.Allocate_Selector{{Labels: map[string]string{"mode": "ctf"}}},
		Annotations: map[string]string{"map": "dust"}, AllocationId: "a-1"}}})
	ev := next("allocated").GetAllocated()
	t.Logf("Allocated event %v after the apply", time.Since(start))
	if ev.GetAllocationId() != "a-1" || ev.GetAnnotations()["map"] != "dust" || ev.GetLabels()["mode"] != "ctf" {
		t.Fatalf("allocated event: %+v", ev)
	}
	// Ready after the match returns it to the pool; self-allocation then
	// hands out a fresh id and announces it too.
	if _, err := h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: "srv-1"}); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("srv-1"); rec.State != "ready" || rec.AllocationID != "" {
		t.Fatalf("after ready: %+v", rec)
	}
	res, err := h.client.Allocate(ctx, &cassnetv1.AllocateRequest{ServerId: "srv-1"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next("allocated").GetAllocated(); ev.GetAllocationId() != res.GetAllocationId() || h.record("srv-1").State != "allocated" {
		t.Fatalf("self-allocation %s: event %+v", res.GetAllocationId(), ev)
	}
	if _, err := h.client.Reserve(ctx, &cassnetv1.ReserveRequest{ServerId: "srv-1", Seconds: 30}); err == nil {
		t.Fatal("an allocated server was reserved")
	}
	if _, err := h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: "srv-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Reserve(ctx, &cassnetv1.ReserveRequest{ServerId: "srv-1", Seconds: 30}); err != nil {
		t.Fatal(err)
	}
	if rec := h.record("srv-1"); rec.State != "reserved" || rec.ReservedUntil == nil {
		t.Fatalf("after reserve: %+v", rec)
	}
	if _, err := h.client.Reserve(ctx, &cassnetv1.ReserveRequest{ServerId: "srv-1"}); err == nil {
		t.Fatal("a reservation of 0 s was accepted")
	}

	// A drained node sends one drain event.
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_SetNodeSchedulable{SetNodeSchedulable: &cassnetv1.SetNodeSchedulable{Node: "node-a"}}})
	next("drain")

	// Shutdown removes the record.
	if _, err := h.client.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: "srv-1", State: cassnetv1.ServerState_SERVER_STATE_SHUTDOWN}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.store.state.Servers.Server("acme", "srv-1"); ok {
		t.Fatal("the record outlived shutdown")
	}
}

func TestReplicatedHealthAndPlayers(t *testing.T) {
	h := newReplicated(t, nil, 0)
	key := h.key("acme", "game-server", "")
	ctx := h.ctx(key)
	h.register(key, "srv-2", "")
	if _, err := h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: "srv-2"}); err != nil {
		t.Fatal(err)
	}
	// No ping for three intervals (300 ms here): unhealthy.
	h.eventually("srv-2 is unhealthy", func() bool { return h.record("srv-2").State == "unhealthy" })
	ping, err := h.client.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Pinging again restores it.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if ping.Send(&cassnetv1.HealthPing{ServerId: "srv-2"}) != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()
	start := time.Now()
	h.eventually("srv-2 is ready again", func() bool { return h.record("srv-2").State == "ready" })
	t.Logf("restored %v after the first ping", time.Since(start))
	if res, err := h.client.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: "srv-2", Token: h.session("alice", "")}); err != nil || !res.GetValid() {
		t.Fatalf("connect: %v %v", res, err)
	}
	start = time.Now()
	h.eventually("the player count is replicated", func() bool { return h.record("srv-2").Players == 1 })
	t.Logf("player count replicated after %v", time.Since(start))

	// A record lost (the leader removed it) is re-asserted by reconcile.
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_RemoveServer{RemoveServer: &cassnetv1.RemoveServer{Tenant: "acme", Id: "srv-2"}}})
	h.eventually("srv-2 is re-registered and ready", func() bool {
		rec, ok := h.store.state.Servers.Server("acme", "srv-2")
		return ok && rec.State == "ready"
	})
}

func TestReaper(t *testing.T) {
	members := &fakeMembers{}
	h := newReplicated(t, members, 1500*time.Millisecond)
	// A server of node-b, as node-b would have registered it.
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{
		Tenant: "acme", Id: "far", Node: "node-b", State: "ready"}}})
	members.set(member("node-a", mesh.StatusAlive), member("node-b", mesh.StatusFailed))
	start := time.Now()
	h.eventually("node-b's server is lost", func() bool { return h.record("far").State == servers.StateLost })
	h.eventually("node-b's server is removed", func() bool {
		_, ok := h.store.state.Servers.Server("acme", "far")
		return !ok
	})
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("removed after %v, before the grace period", d)
	}
}

// TestLostComesBack: the reaper marked this node's servers lost (the node
// was cut off, not dead); reconcile re-asserts them when the node sees
// the records again: a ready one as ready, one in a match as draining,
// so the match goes on and nothing retires or removes it.
func TestLostComesBack(t *testing.T) {
	h := newReplicated(t, nil, 0)
	key := h.key("acme", "game-server", "")
	ctx := h.ctx(key)
	h.register(key, "idle", "")
	h.register(key, "match", "")
	for _, id := range []string{"idle", "match"} {
		if _, err := h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: id}); err != nil {
			t.Fatal(err)
		}
	}
	ping, err := h.client.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, id := range []string{"idle", "match"} {
				if ping.Send(&cassnetv1.HealthPing{ServerId: id}) != nil {
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()
	if _, err := h.client.Allocate(ctx, &cassnetv1.AllocateRequest{ServerId: "match"}); err != nil {
		t.Fatal(err)
	}
	h.eventually("match is allocated", func() bool { return h.record("match").State == servers.StateAllocated })
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_MarkNodeServers{MarkNodeServers: &cassnetv1.MarkNodeServers{Node: "node-a", Action: servers.StateLost}}})
	h.eventually("idle is ready again", func() bool { return h.record("idle").State == servers.StateReady })
	h.eventually("match is draining (its match goes on)", func() bool { return h.record("match").State == servers.StateDraining })
}
