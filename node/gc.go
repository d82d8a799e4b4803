package node

import (
	"fmt"
	"runtime/debug"
)

// DefaultGCPercent is the agent's garbage-collector target (GOGC): 200,
// not Go's 100. A node's heap is dense with pointers (the replicated
// state's persistent trees), while its hot paths (messaging buffers,
// REST bodies) allocate fast and hold no pointers, so with Go's default
// it spends much of its CPU marking the same state over and over. 200
// halves the collections for at most 1.5x the peak heap; the measured
// gain and cost are in docs/benchmarks.md ("Issue 17, seventh session")
// and the operator's choice in docs/operations.md. GOGC in the agent's
// environment, or --gc-percent, overrides it.
const DefaultGCPercent = 200

// maxGCPercent bounds --gc-percent: beyond it the heap may grow 100-fold
// between collections, which no node sharing a VM with game servers wants.
const maxGCPercent = 10000

func validateGCPercent(p int) error {
	if p < 0 || p > maxGCPercent {
		return fmt.Errorf("--gc-percent %d: must be 0 (leave the runtime's setting) or 1 to %d", p, maxGCPercent)
	}
	return nil
}

// applyGCPercent sets the process's collector target when the node is
// configured with one (0 leaves it alone, as embedders and in-process
// tests get) and returns a function that restores the previous target.
// The setting is process-wide: the agent runs one node per process.
func (n *Node) applyGCPercent() (restore func()) {
	p := n.cfg.GCPercent
	if p == 0 {
		return func() {}
	}
	prev := debug.SetGCPercent(p)
	n.logger.Info("garbage collector target set", "gc_percent", p, "previous", prev)
	return func() { debug.SetGCPercent(prev) }
}
