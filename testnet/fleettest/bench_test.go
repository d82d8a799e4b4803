package fleettest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// BenchmarkFleetReplacement measures the time from an allocation (its
// 201) until the fleet is back at its ready buffer: the leader's
// controller sees the allocated record, places a new slot, its node starts
// the process, which registers and goes ready, and the observer's node
// has applied that. One op is one allocation; ms_p50 and ms_p99 are over
// the ops. Three agents (-race unless CASSNET_BIN) on this host, buffer 4.
//
//	go test -run XXX -bench FleetReplacement -benchtime 30x ./testnet/fleettest/
func BenchmarkFleetReplacement(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := benchCluster(b, ctx)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if resp, err := e.cl.Do(ctx, "POST", e.nodes[1].HTTPAddr(), "/v1/tenants/acme/allocations",
			map[string]any{"project_id": "arena", "fleet": "ctf"}); err != nil || resp.Status != 201 {
			b.Fatalf("allocate: %v %v", err, resp)
		}
		err := testnet.WaitFor(ctx, func() error {
			if st := byState(e.servers(ctx)); st["ready"] < 4 || st["allocated"] < i+1 {
				return fmt.Errorf("by state %v", st)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms_p50")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "ms_p99")
}

// benchCluster is a cluster with a fleet of buffer 4 (max 200 servers).
func benchCluster(b *testing.B, ctx context.Context) *env {
	e := startCluster(b, ctx, 3)
	e.do(ctx, 0, "POST", "/v1/tenants", map[string]string{"name": "acme"}, 201, nil)
	e.do(ctx, 0, "POST", "/v1/tenants/acme/projects", map[string]string{"name": "arena"}, 201, nil)
	sp := spec()
	sp["max_servers"], sp["max_per_node"] = 200, 100
	sp["ports"] = []map[string]string{{"name": "game", "protocol": "udp", "range": "30000-39999"}}
	e.do(ctx, 0, "PUT", "/v1/tenants/acme/projects/arena/fleets/ctf", sp, 201, nil)
	if err := testnet.WaitFor(ctx, func() error {
		if st := byState(e.servers(ctx)); st["ready"] < 4 {
			return fmt.Errorf("by state %v", st)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkFleetNodeLoss measures the time from a kill -9 of a node that
// runs fleet servers until the buffer (4 ready) stands again on the other
// nodes: the mesh declares the node failed, the leader's reaper marks its
// servers unhealthy (lost), and the controller places replacements. The
// killed node is restarted between ops (not timed). Use a small
// -benchtime, e.g. 5x.
func BenchmarkFleetNodeLoss(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := benchCluster(b, ctx)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		victim := e.nodes[1+i%2] // n1 bootstrapped and leads
		b.StartTimer()
		start := time.Now()
		if err := victim.Kill(); err != nil {
			b.Fatal(err)
		}
		err := testnet.WaitFor(ctx, func() error {
			ready := 0
			for _, s := range e.servers(ctx) {
				if s.State == "ready" && s.Node != victim.Name {
					ready++
				}
			}
			if ready < 4 {
				return fmt.Errorf("%d ready on live nodes", ready)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		if err := victim.Restart(); err != nil {
			b.Fatal(err)
		}
		if err := testnet.WaitVoters(ctx, e.cl, e.nodes, 3); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms_p50")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms_max")
}
