package testnet

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestChaosAlloc is issue 11's proof under faults: three nodes, 24
// simulated game servers registered over gRPC (8 per node), six
// matchmakers allocating over REST with an idempotency key per match and
// retrying it on another node after a time-out, matches of 0.3-1.5 s,
// while the nemesis kills and pauses nodes and, with network namespaces,
// isolates the leader and one node. The allocations checker must pass:
// no server allocated twice between two returns to ready, one allocation
// per idempotency key, every acknowledged allocation on every node.
//
// It runs behind `make chaos-alloc` (CASSNET_CHAOS_ALLOC=1), not in
// `make test`: about 50 s of real processes on top of TestChaosShort, and
// on main 426d852 it still finds double allocations in some runs
// (docs/allocation.md#proof); join it to `make test` once they are fixed.
func TestChaosAlloc(t *testing.T) {
	if os.Getenv("CASSNET_CHAOS_ALLOC") == "" {
		t.Skip("set CASSNET_CHAOS_ALLOC=1 (make chaos-alloc) to run the allocation chaos test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	faults, mode, partitions := []string{"kill", "pause"}, ModeLoopback, 0
	if err := NetnsAvailable(); err == nil {
		faults, mode, partitions = append(faults, "partition-leader", "partition-one"), ModeNetns, 1
	} else {
		t.Logf("network namespaces unavailable (%v): kill and pause only", err)
	}
	cfg := chaosConfig(t, RunConfig{
		Nodes: 3, Clients: 6, Duration: 35 * time.Second, Mode: mode, Faults: faults,
		Workloads: []string{AllocWorkloadName},
		Checkers:  []Checker{&ConvergenceChecker{}, &AllocChecker{}, &LogChecker{}},
	})
	rep := runChaos(t, ctx, cfg)
	checkReport(t, rep, []string{"kill", "pause"}, partitions)
}
