package servers

import (
	"fmt"
	"math/rand/v2"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// TestIndexedPickMatchesFullWalk: the indexed pick (by state, node by
// node) chooses exactly the server the full walk of the project chooses,
// for random pools, drained nodes, strategies and selectors, so every
// replica's choice is unchanged by the index.
func TestIndexedPickMatchesFullWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	states := []string{StateReady, StateReady, StateAllocated, StateReserved, StateStarting, StateUnhealthy}
	for round := range 300 {
		s := &Store{}
		w := s.begin(&data{})
		for i := range 1 + rng.IntN(60) {
			srv := &Server{
				ID: fmt.Sprintf("gs-%03d", rng.IntN(500)), Tenant: "t", Project: []string{"p", "q"}[rng.IntN(2)],
				Fleet: []string{"", "f1"}[rng.IntN(2)], Node: fmt.Sprintf("n%d", 1+rng.IntN(12)),
				Labels:   map[string]string{"mode": []string{"ctf", "dm"}[rng.IntN(2)]},
				Capacity: uint32(rng.IntN(3) * 4), Players: uint32(rng.IntN(9)), State: states[rng.IntN(len(states))],
			}
			_ = i
			old, _ := w.servers.Get(serverKey(srv.Tenant, srv.ID))
			w.put(old, srv)
		}
		for range rng.IntN(3) {
			n := fmt.Sprintf("n%d", 1+rng.IntN(12))
			w.nodes.Put(n, NodeState{Node: n})
		}
		for range 20 {
			op := &cassnetv1.Allocate{Tenant: "t", Project: []string{"p", "q"}[rng.IntN(2)],
				Strategy: []string{"", StrategyPacked, StrategyDistributed}[rng.IntN(3)], Fleet: []string{"", "f1"}[rng.IntN(2)]}
			sel := &cassnetv1.Allocate_Selector{State: []string{"", StateReady, StateAllocated}[rng.IntN(3)], MinFreePlayers: uint32(rng.IntN(5))}
			if rng.IntN(3) > 0 {
				sel.Labels = map[string]string{"mode": []string{"ctf", "dm"}[rng.IntN(2)]}
			}
			got, want := w.pick(op, sel), w.pickAll(op, sel)
			if (got == nil) != (want == nil) || got != nil && got.ID != want.ID {
				t.Fatalf("round %d: op %v sel %v: indexed pick %v, full walk %v", round, op, sel, got, want)
			}
		}
	}
}
