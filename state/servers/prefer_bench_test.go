package servers

import (
	"fmt"
	"math/rand/v2"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// BenchmarkCandidates: the read a node makes for score_allocation, over
// a project of n ready servers on 20 nodes (the request-path cost the
// hook adds before its plugin call).
func BenchmarkCandidates(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			s := &Store{}
			s.cur.Store(&data{})
			w := s.begin(s.cur.Load())
			for i := range n {
				w.put(nil, &Server{ID: fmt.Sprintf("gs-%05d", i), Tenant: "t", Project: "p", Node: fmt.Sprintf("n%02d", i%20),
					Labels: map[string]string{"region": []string{"eu", "us"}[i%2]}, Capacity: 8, State: StateReady})
			}
			w.Commit()
			op := &cassnetv1.Allocate{Tenant: "t", Project: "p", Selectors: []*cassnetv1.Allocate_Selector{{Labels: map[string]string{"region": "eu"}}}}
			b.ReportAllocs()
			for b.Loop() {
				if len(s.Candidates(op, MaxPreferred)) != min(n/2, MaxPreferred) {
					b.Fatal("short")
				}
			}
		})
	}
}

// TestCandidatesFirstIsDefault: for random pools, drained nodes,
// strategies and selectors, the first candidate is the server Apply
// would pick without a preference, and every candidate is eligible and
// listed once.
func TestCandidatesFirstIsDefault(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	states := []string{StateReady, StateReady, StateAllocated, StateReserved, StateStarting}
	for round := range 200 {
		s := &Store{}
		s.cur.Store(&data{})
		w := s.begin(s.cur.Load())
		for range 1 + rng.IntN(80) {
			srv := &Server{
				ID: fmt.Sprintf("gs-%03d", rng.IntN(500)), Tenant: "t", Project: []string{"p", "q"}[rng.IntN(2)],
				Fleet: []string{"", "f1"}[rng.IntN(2)], Node: fmt.Sprintf("n%d", 1+rng.IntN(8)),
				Labels:   map[string]string{"mode": []string{"ctf", "dm"}[rng.IntN(2)]},
				Capacity: uint32(rng.IntN(3) * 4), Players: uint32(rng.IntN(9)), State: states[rng.IntN(len(states))],
			}
			old, _ := w.servers.Get(serverKey(srv.Tenant, srv.ID))
			w.put(old, srv)
		}
		for range rng.IntN(3) {
			n := fmt.Sprintf("n%d", 1+rng.IntN(8))
			w.nodes.Put(n, NodeState{Node: n})
		}
		w.Commit()
		for range 10 {
			op := &cassnetv1.Allocate{Tenant: "t", Project: []string{"", "p", "q"}[rng.IntN(3)],
				Strategy: []string{"", StrategyDistributed}[rng.IntN(2)], Fleet: []string{"", "f1"}[rng.IntN(2)]}
			for range rng.IntN(3) {
				sel := &cassnetv1.Allocate_Selector{State: []string{"", StateAllocated}[rng.IntN(2)], MinFreePlayers: uint32(rng.IntN(5))}
				if rng.IntN(2) > 0 {
					sel.Labels = map[string]string{"mode": []string{"ctf", "dm"}[rng.IntN(2)]}
				}
				op.Selectors = append(op.Selectors, sel)
			}
			r := s.begin(s.cur.Load())
			var want *Server
			for _, sel := range selectorsOf(op) {
				if want = r.pick(op, sel); want != nil {
					break
				}
			}
			got := s.Candidates(op, MaxPreferred)
			if want == nil && len(got) != 0 || want != nil && (len(got) == 0 || got[0].ID != want.ID) {
				t.Fatalf("round %d: op %v: default %v, candidates %v", round, op, want, got)
			}
			seen := map[string]bool{}
			drained := func(n string) bool { _, ok := r.nodes.Get(n); return ok }
			for _, c := range got {
				srv, _ := r.servers.Get(serverKey("t", c.ID))
				if seen[c.ID] || !eligible(op, srv, drained) {
					t.Fatalf("round %d: candidate %s repeated or not eligible", round, c.ID)
				}
				seen[c.ID] = true
			}
		}
	}
}
