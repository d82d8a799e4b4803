package testnet

import (
	"context"
	"fmt"
	"io"
)

// Rounds of the REST write and read phases, alternating with etcd's, for
// the reason and in the order of the messaging rounds (benchrounds.go):
// both clusters are up, round r runs cassnet then etcd and every even
// round etcd then cassnet, each round writes keys of its own (so both
// systems' state grows by the same number of records per round), and a
// ratio is the median of the rounds' own ratios.

// restSystem is a Target with a name for progress lines.
type restSystem struct {
	name   string
	target Target
}

// runRESTRounds runs rounds rounds of RunBench on every system and
// returns each system's results by round: out[system][round-1].
func runRESTRounds(ctx context.Context, progress io.Writer, systems []restSystem, load LoadConfig, rounds int) ([][]BenchResult, error) {
	out := make([][]BenchResult, len(systems))
	for r := 1; r <= rounds; r++ {
		for _, si := range roundOrder(len(systems), r) {
			s := systems[si]
			fmt.Fprintf(progress, "bench: round %d/%d: %s ban writes, then stale reads\n", r, rounds, s.name)
			res, err := RunBench(ctx, s.target, load, fmt.Sprintf("r%d-", r))
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", s.name, r, err)
			}
			out[si] = append(out[si], res)
		}
	}
	return out, nil
}

// medianBenchPhase summarises rounds of one phase: every rate and latency
// figure is the median over the rounds (each on its own), and the counts
// of successes and errors are summed, so that no error is hidden.
func medianBenchPhase(ps []BenchPhase) BenchPhase {
	if len(ps) == 0 {
		return BenchPhase{}
	}
	med := func(f func(BenchPhase) float64) float64 {
		xs := make([]float64, len(ps))
		for i, p := range ps {
			xs[i] = f(p)
		}
		return median(xs)
	}
	out := BenchPhase{
		PerSec: med(func(p BenchPhase) float64 { return p.PerSec }),
		MeanMs: med(func(p BenchPhase) float64 { return p.MeanMs }),
		P50Ms:  med(func(p BenchPhase) float64 { return p.P50Ms }),
		P90Ms:  med(func(p BenchPhase) float64 { return p.P90Ms }),
		P99Ms:  med(func(p BenchPhase) float64 { return p.P99Ms }),
		MaxMs:  med(func(p BenchPhase) float64 { return p.MaxMs }),
	}
	for _, p := range ps {
		out.OK += p.OK
		if len(p.Errors) > 0 && out.Errors == nil {
			out.Errors = map[string]int{}
		}
		for k, v := range p.Errors {
			out.Errors[k] += v
		}
	}
	return out
}

// newRoundsSide is one system's side of the report from its rounds: the
// medians (medianBenchPhase) and every round.
func newRoundsSide(system string, rounds []BenchResult, valueSize int) *BenchSide {
	side := &BenchSide{System: system, ValueBytes: valueSize}
	var writes, reads []BenchPhase
	for _, r := range rounds {
		w, rd := newBenchPhase(r.Writes), newBenchPhase(r.Reads)
		writes, reads = append(writes, w), append(reads, rd)
		side.Rounds = append(side.Rounds, BenchRound{Writes: w, Reads: rd})
	}
	side.Writes, side.Reads = medianBenchPhase(writes), medianBenchPhase(reads)
	return side
}

// BenchRound is one round of a system's write and read phases.
type BenchRound struct {
	Writes BenchPhase `json:"writes"`
	Reads  BenchPhase `json:"reads"`
}

// newBenchRatio compares two sides round by round: each ratio is the
// median of the rounds' own ratios.
func newBenchRatio(c, e *BenchSide) *BenchRatio {
	r := &BenchRatio{}
	r.WritesPerSec, r.WritesPerSecRounds = pairedRatios(c.Rounds, e.Rounds, func(b BenchRound) float64 { return b.Writes.PerSec })
	r.WriteP99, r.WriteP99Rounds = pairedRatios(c.Rounds, e.Rounds, func(b BenchRound) float64 { return b.Writes.P99Ms })
	r.ReadsPerSec, r.ReadsPerSecRounds = pairedRatios(c.Rounds, e.Rounds, func(b BenchRound) float64 { return b.Reads.PerSec })
	return r
}
