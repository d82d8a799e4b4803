package testnet

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
)

// fakeSystem records the phases asked of it and answers each with msgs/s
// taken from perSec by round.
type fakeSystem struct {
	name   string
	log    *[]string
	perSec map[int]float64
	failAt int
}

func (f *fakeSystem) phase(_ context.Context, rate, round int) (MsgPhase, error) {
	*f.log = append(*f.log, f.name+rateName(rate))
	if round == f.failAt {
		return MsgPhase{}, errors.New("boom")
	}
	return MsgPhase{PerSec: f.perSec[round], Rate: float64(rate)}, nil
}

// TestRunRoundsAlternates: every round runs each rate on both systems,
// the order flips every round, and the phases come back by system, rate
// and round.
func TestRunRoundsAlternates(t *testing.T) {
	var log []string
	a := &fakeSystem{name: "a", log: &log, perSec: map[int]float64{1: 10, 2: 20, 3: 30}}
	b := &fakeSystem{name: "b", log: &log, perSec: map[int]float64{1: 1, 2: 2, 3: 3}}
	out, err := runRounds(context.Background(), io.Discard, []namedSystem{{"a", a}, {"b", b}}, []int{0, 1000}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"aunpaced", "bunpaced", "a1000/s", "b1000/s",
		"bunpaced", "aunpaced", "b1000/s", "a1000/s",
		"aunpaced", "bunpaced", "a1000/s", "b1000/s",
	}
	if !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
	for si, base := range []float64{10, 1} {
		for ri, rate := range []float64{0, 1000} {
			got := out[si][ri]
			if len(got) != 3 {
				t.Fatalf("system %d rate %v: %d rounds", si, rate, len(got))
			}
			for r, p := range got {
				if p.PerSec != base*float64(r+1) || p.Rate != rate {
					t.Fatalf("system %d rate %v round %d: %+v", si, rate, r+1, p)
				}
			}
		}
	}
}

// TestRunRoundsStopsAtFailure: a failed phase ends the rounds with an
// error that names the system and round.
func TestRunRoundsStopsAtFailure(t *testing.T) {
	var log []string
	a := &fakeSystem{name: "a", log: &log, failAt: 2}
	_, err := runRounds(context.Background(), io.Discard, []namedSystem{{"a", a}}, []int{0}, 3)
	if err == nil || err.Error() != "a, round 2, rate unpaced: boom" {
		t.Fatalf("err %v", err)
	}
	if len(log) != 2 {
		t.Fatalf("ran %v after the failure", log)
	}
}

// TestPairedRatiosTakeTheMedianOfRounds: the ratio is the median of the
// per-round ratios, which differs from the ratio of the medians when the
// machine slows both systems in one round; a round the peer did not
// measure is left out.
func TestPairedRatiosTakeTheMedianOfRounds(t *testing.T) {
	c := []MsgPhase{{PerSec: 100}, {PerSec: 40}, {PerSec: 90}, {PerSec: 50}}
	n := []MsgPhase{{PerSec: 200}, {PerSec: 50}, {PerSec: 100}, {PerSec: 0}}
	med, rounds := pairedRatios(c, n, phasePerSec)
	if !slices.Equal(rounds, []float64{0.5, 0.8, 0.9}) {
		t.Fatalf("rounds %v", rounds)
	}
	if med != 0.8 {
		t.Fatalf("median %v, want 0.8", med)
	}
	// The ratio of the medians would be 50/50 = 1.0 or 90/100 = 0.9.
	if got := medianPhase(c, phasePerSec).PerSec / medianPhase(n, phasePerSec).PerSec; got == med {
		t.Fatalf("the example does not tell the two apart (%v)", got)
	}
	if m, r := pairedRatios(nil, n, phasePerSec); m != 0 || r != nil {
		t.Fatalf("no rounds: %v %v", m, r)
	}
}

// TestMedianPhase: the median by the key, the lower middle one for an
// even count, the zero phase for none.
func TestMedianPhase(t *testing.T) {
	ps := []MsgPhase{{P99Ms: 9, Delivered: 1}, {P99Ms: 2, Delivered: 2}, {P99Ms: 5, Delivered: 3}}
	if got := medianPhase(ps, phaseP99); got.Delivered != 3 {
		t.Fatalf("median %+v", got)
	}
	if got := medianPhase(ps[:2], phaseP99); got.Delivered != 2 {
		t.Fatalf("even median %+v", got)
	}
	if got := medianPhase(nil, phaseP99); got.Delivered != 0 || got.P99Ms != 0 {
		t.Fatalf("empty median %+v", got)
	}
	if ps[0].Delivered != 1 {
		t.Fatal("medianPhase reordered its input")
	}
}

// TestNewMsgRatiosCPU: messages per CPU-second compare as the inverse of
// CPU time per message, and a round without CPU figures is left out; the
// p99 ratio pairs the paced rounds.
func TestNewMsgRatiosCPU(t *testing.T) {
	c := []MsgPhase{{PerSec: 50, CPUMicrosPerMsg: 20}, {PerSec: 60, CPUMicrosPerMsg: 0}}
	n := []MsgPhase{{PerSec: 100, CPUMicrosPerMsg: 10}, {PerSec: 100, CPUMicrosPerMsg: 10}}
	r := newMsgRatios(c, n, []MsgPhase{{P99Ms: 6}, {P99Ms: 2}, {P99Ms: 3}}, []MsgPhase{{P99Ms: 3}, {P99Ms: 4}, {P99Ms: 1}})
	if r.StreamPerSec != 0.5 || !slices.Equal(r.StreamPerSecRounds, []float64{0.5, 0.6}) {
		t.Fatalf("msgs/s ratios %+v", r)
	}
	if r.StreamPerCPU != 0.5 || !slices.Equal(r.StreamPerCPURounds, []float64{0.5}) {
		t.Fatalf("CPU ratios %+v", r)
	}
	if r.StreamP99 != 2 || !slices.Equal(r.StreamP99Rounds, []float64{2, 0.5, 3}) {
		t.Fatalf("p99 ratios %+v", r)
	}
}

// TestMedianBenchPhaseSumsErrors: each figure is the median over the
// rounds on its own, and successes and errors are summed, so an error in
// any round shows.
func TestMedianBenchPhaseSumsErrors(t *testing.T) {
	got := medianBenchPhase([]BenchPhase{
		{PerSec: 300, OK: 10, P99Ms: 9},
		{PerSec: 100, OK: 20, P99Ms: 2, Errors: map[string]int{"HTTP 503": 2}},
		{PerSec: 200, OK: 30, P99Ms: 5, Errors: map[string]int{"HTTP 503": 1, "timeout": 1}},
	})
	if got.PerSec != 200 || got.P99Ms != 5 || got.OK != 60 {
		t.Fatalf("medians %+v", got)
	}
	if got.Errors["HTTP 503"] != 3 || got.Errors["timeout"] != 1 {
		t.Fatalf("errors %v", got.Errors)
	}
}

// TestNewBenchRatioPairsRounds: the writes ratio is the median of the
// rounds' own ratios; a round where etcd measured nothing is left out.
func TestNewBenchRatioPairsRounds(t *testing.T) {
	side := func(w ...float64) *BenchSide {
		s := &BenchSide{}
		for _, x := range w {
			s.Rounds = append(s.Rounds, BenchRound{Writes: BenchPhase{PerSec: x, P99Ms: 10}})
		}
		return s
	}
	r := newBenchRatio(side(100, 300, 200, 50), side(200, 250, 100, 0))
	if !slices.Equal(r.WritesPerSecRounds, []float64{0.5, 1.2, 2}) || r.WritesPerSec != 1.2 {
		t.Fatalf("writes ratios %+v", r)
	}
	if r.WriteP99 != 1 || len(r.WriteP99Rounds) != 4 {
		t.Fatalf("p99 ratios %+v", r)
	}
}
