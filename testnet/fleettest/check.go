// Package fleettest proves fleets on real cassnet agents (its tests start
// three-node clusters whose nodes supervise testdata/gs) and holds the
// checker of the fleet chaos run (make chaos-fleet): the buffer is
// restored, no allocated server was killed, no server id was used twice.
package fleettest

import (
	"fmt"
	"slices"
	"time"
)

// Observation is one read of a fleet's server records (always from the
// same node, so reads are monotonic): server id -> state.
type Observation struct {
	At      time.Time
	Servers map[string]string
}

// Mark is a game-server process that ended cleanly, as it wrote itself
// (testdata/gs, GS_MARK_DIR): why (sigterm, match_over) and whether it
// was in a match then. A process killed with SIGKILL (a node kill, the
// nemesis) leaves none.
type Mark struct {
	Server  string
	Why     string
	InMatch bool
	At      time.Time
}

// History is what a fleet chaos run recorded. The last observation is
// taken after the faults healed and the cluster settled.
type History struct {
	Buffer       int
	Observations []Observation
	Marks        []Mark
}

// Check returns every violation in h (none: the run passed):
//   - the buffer is restored: the last observation has at least Buffer
//     ready servers;
//   - no allocated server was killed: no process was stopped by its node
//     (SIGTERM) during a match;
//   - no server id was used twice: an id never reappears in the records
//     after it was gone from them.
func Check(h History) []string {
	var bad []string
	if len(h.Observations) == 0 {
		return []string{"no observations"}
	}
	last := h.Observations[len(h.Observations)-1]
	ready := 0
	for _, st := range last.Servers {
		if st == "ready" {
			ready++
		}
	}
	if ready < h.Buffer {
		bad = append(bad, fmt.Sprintf("buffer not restored: %d ready at the end, want %d", ready, h.Buffer))
	}
	for _, m := range h.Marks {
		if m.Why == "sigterm" && m.InMatch {
			bad = append(bad, fmt.Sprintf("allocated server %s was stopped by its node during its match (at %s)", m.Server, m.At.Format(time.RFC3339Nano)))
		}
	}
	present := map[string]bool{}
	gone := map[string]time.Time{}
	for _, o := range h.Observations {
		for id := range o.Servers {
			if at, was := gone[id]; was {
				bad = append(bad, fmt.Sprintf("server id %s used twice: gone at %s, back at %s", id, at.Format(time.RFC3339Nano), o.At.Format(time.RFC3339Nano)))
				delete(gone, id)
			}
			present[id] = true
		}
		for id := range present {
			if _, ok := o.Servers[id]; !ok {
				gone[id] = o.At
				delete(present, id)
			}
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}
