package testnet

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// Rounds of the streaming phases, alternating with the peer's.
//
// The machines this bench runs on are shared: the same build's streaming
// figure moves by 2× between runs minutes apart, and so does NATS's. When
// each system ran its phases once, minutes apart, the ratio measured
// mostly which of them the neighbours slowed down. So the streaming
// phases and the peer's run in rounds, back to back, with both clusters
// up (an idle NATS costs 0-2 % of a core, an idle cassnet 6-12 %, which
// handicaps NATS; docs/benchmarks.md): round r runs, for
// each rate, cassnet then NATS, and every even round NATS then cassnet,
// so that neither side always goes first. A ratio is taken within each
// round, between phases seconds apart, and the report gives the median of
// those ratios beside every round's figures.

// msgSystem runs one messaging phase on a cluster that is already up.
// round numbers the phases of one rate from 1, so that each can use a
// fresh topic. Calls are sequential.
type msgSystem interface {
	phase(ctx context.Context, rate, round int) (MsgPhase, error)
}

// namedSystem is a msgSystem and the name progress lines give it.
type namedSystem struct {
	name string
	sys  msgSystem
}

// runRounds runs rounds rounds of every system at every rate and returns
// each system's phases by rate and round: out[system][rate][round-1].
func runRounds(ctx context.Context, progress io.Writer, systems []namedSystem, rates []int, rounds int) ([][][]MsgPhase, error) {
	out := make([][][]MsgPhase, len(systems))
	for i := range out {
		out[i] = make([][]MsgPhase, len(rates))
	}
	for r := 1; r <= rounds; r++ {
		for ri, rate := range rates {
			for _, si := range roundOrder(len(systems), r) {
				s := systems[si]
				fmt.Fprintf(progress, "bench: round %d/%d: %s, rate %s\n", r, rounds, s.name, rateName(rate))
				p, err := s.sys.phase(ctx, rate, r)
				if err != nil {
					return nil, fmt.Errorf("%s, round %d, rate %s: %w", s.name, r, rateName(rate), err)
				}
				out[si][ri] = append(out[si][ri], p)
			}
		}
	}
	return out, nil
}

// roundOrder is the order of n systems in round r: as given in odd
// rounds, reversed in even ones.
func roundOrder(n, r int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
		if r%2 == 0 {
			order[i] = n - 1 - i
		}
	}
	return order
}

// medianPhase is the phase whose key is the median of ps (the lower of
// the two middle ones for an even count); the zero MsgPhase for none.
func medianPhase(ps []MsgPhase, key func(MsgPhase) float64) MsgPhase {
	if len(ps) == 0 {
		return MsgPhase{}
	}
	sorted := slices.Clone(ps)
	slices.SortStableFunc(sorted, func(a, b MsgPhase) int {
		switch ka, kb := key(a), key(b); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}

// pairedRatios is a[i]/b[i] for every round both measured (b's key
// positive, a's not negative: -1 stands for unknown), and their median
// (0 if there is none).
func pairedRatios[T any](a, b []T, key func(T) float64) (med float64, rounds []float64) {
	for i := range min(len(a), len(b)) {
		if ka, kb := key(a[i]), key(b[i]); ka >= 0 && kb > 0 {
			rounds = append(rounds, ka/kb)
		}
	}
	return median(rounds), rounds
}

// median is the median of xs (the lower of the two middle ones for an
// even count), 0 for none. xs is not reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(xs))
	return sorted[(len(sorted)-1)/2]
}

// MsgRatios compares cassnet's streaming phases with the peer's, round by
// round (benchrounds.go).
type MsgRatios struct {
	// StreamPerSec is the median over the rounds of cassnet's streaming
	// msgs/s over the peer's in the same round; StreamPerSecRounds are
	// those ratios in round order.
	StreamPerSec       float64   `json:"stream_per_sec"`
	StreamPerSecRounds []float64 `json:"stream_per_sec_rounds"`
	// StreamPerCPU is the median over the rounds of the peer's CPU time
	// per message over cassnet's (messages per CPU-second, cassnet over
	// peer); 0 when CPU time could not be read.
	StreamPerCPU       float64   `json:"stream_per_cpu,omitempty"`
	StreamPerCPURounds []float64 `json:"stream_per_cpu_rounds,omitempty"`
	// StreamP99 is the same for the p99 latency of the paced phases.
	StreamP99       float64   `json:"stream_p99"`
	StreamP99Rounds []float64 `json:"stream_p99_rounds"`
}

func phasePerSec(p MsgPhase) float64 { return p.PerSec }
func phaseP99(p MsgPhase) float64    { return p.P99Ms }

// cpuInverse is messages per CPU-µs, -1 if the CPU time is unknown.
func cpuInverse(p MsgPhase) float64 {
	if p.CPUMicrosPerMsg <= 0 {
		return -1
	}
	return 1 / p.CPUMicrosPerMsg
}

// newMsgRatios compares cassnet's streaming rounds with the peer's:
// unpaced (thr) and paced (lat).
func newMsgRatios(thr, peerThr, lat, peerLat []MsgPhase) *MsgRatios {
	r := &MsgRatios{}
	r.StreamPerSec, r.StreamPerSecRounds = pairedRatios(thr, peerThr, phasePerSec)
	r.StreamPerCPU, r.StreamPerCPURounds = pairedRatios(thr, peerThr, cpuInverse)
	r.StreamP99, r.StreamP99Rounds = pairedRatios(lat, peerLat, phaseP99)
	return r
}

// natsSystem runs messaging phases on a running NATS cluster: publishing
// on server 3, subscribing on server 1, a fresh subject each phase.
type natsSystem struct {
	n *NATS
	d time.Duration
}

func (s *natsSystem) phase(ctx context.Context, rate, round int) (MsgPhase, error) {
	subject := fmt.Sprintf("bench.%d.%d", rate, round)
	sc, err := dialNATS(ctx, s.n.Addrs[0])
	if err != nil {
		return MsgPhase{}, err
	}
	defer sc.c.Close()
	pc, err := dialNATS(ctx, s.n.Addrs[2])
	if err != nil {
		return MsgPhase{}, err
	}
	defer pc.c.Close()
	if err := sc.flushPing("SUB " + subject + " 1\r\n"); err != nil {
		return MsgPhase{}, err
	}
	time.Sleep(200 * time.Millisecond) // interest reaches the other servers
	return runMsgPhase(ctx, []msgPub{natsPub{pc, subject}}, natsSub{sc}, s.d, rate, false, s.n.Pids), nil
}
