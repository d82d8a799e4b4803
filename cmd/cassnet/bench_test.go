package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// TestBenchPhases: --phases all keeps every phase as its own flag set it;
// a list turns off the phases it does not name; a named phase still obeys
// its own flag; an unknown name is an error.
func TestBenchPhases(t *testing.T) {
	base := benchFlags{messaging: 10 * time.Second, verify: true, kills: 10}
	for _, tc := range []struct {
		phases                 string
		noREST, verify         bool
		messaging              time.Duration
		kills                  int
		wantErr, messagingFlag bool
	}{
		{phases: "all", verify: true, messaging: 10 * time.Second, kills: 10},
		{phases: "verify", noREST: true, verify: true},
		{phases: "rest, failure", kills: 10},
		{phases: "rest,messaging,verify,failure", verify: true, messaging: 10 * time.Second, kills: 10},
		{phases: "messaging", noREST: true, messagingFlag: true},
		{phases: "verify,writes", wantErr: true},
		{phases: "", wantErr: true},
	} {
		f := base
		f.phases = tc.phases
		if tc.messagingFlag {
			f.messaging = 0 // --messaging 0 --phases messaging: still off
		}
		noREST, err := f.applyPhases()
		if (err != nil) != tc.wantErr {
			t.Fatalf("--phases %q: error %v", tc.phases, err)
		}
		if err != nil {
			continue
		}
		if noREST != tc.noREST || f.verify != tc.verify || f.messaging != tc.messaging || f.kills != tc.kills {
			t.Errorf("--phases %q: noREST %v verify %v messaging %v kills %d", tc.phases, noREST, f.verify, f.messaging, f.kills)
		}
	}
}

// TestPrintBenchPairsRounds: the table prints every streaming round of
// both systems, and each ratio is the median of the rounds' own ratios
// (here 0.6), not the ratio of the medians (60k/120k = 0.5).
func TestPrintBenchPairsRounds(t *testing.T) {
	round := func(w, p99 float64) testnet.BenchRound {
		return testnet.BenchRound{Writes: testnet.BenchPhase{PerSec: w, P99Ms: p99}}
	}
	cassnet := &testnet.BenchSide{System: "cassnet test", Rounds: []testnet.BenchRound{round(100, 10), round(300, 30), round(200, 20)}}
	etcd := &testnet.BenchSide{System: "etcd test", Rounds: []testnet.BenchRound{round(200, 20), round(250, 20), round(100, 10)}}
	cassnet.Writes, etcd.Writes = testnet.BenchPhase{PerSec: 200, P99Ms: 20}, testnet.BenchPhase{PerSec: 200, P99Ms: 20}
	thr := []testnet.MsgPhase{{PerSec: 60000}, {PerSec: 30000}, {PerSec: 90000}}
	nthr := []testnet.MsgPhase{{PerSec: 100000}, {PerSec: 120000}, {PerSec: 150000}}
	lat := []testnet.MsgPhase{{P99Ms: 3, Rate: 1000}, {P99Ms: 4, Rate: 1000}, {P99Ms: 2, Rate: 1000}}
	r := &testnet.BenchReport{
		Rounds: 3, Cassnet: cassnet, Etcd: etcd,
		Ratio: &testnet.BenchRatio{WritesPerSec: 1.2, WriteP99: 1.0, WritesPerSecRounds: []float64{0.5, 1.2, 2}, WriteP99Rounds: []float64{0.5, 1.5, 2}},
		Messaging: &testnet.CassnetMsg{StreamThroughput: thr[0], StreamLatency: lat[0],
			StreamThroughputRounds: thr, StreamLatencyRounds: lat},
		NATS:     &testnet.NATSMsg{System: "NATS test", Throughput: nthr[1], Latency: lat[1], ThroughputRounds: nthr, LatencyRounds: lat},
		MsgRatio: &testnet.MsgRatios{StreamPerSec: 0.6, StreamPerSecRounds: []float64{0.6, 0.25, 0.6}},
	}
	var out strings.Builder
	printBench(&out, r)
	text := out.String()
	for _, want := range []string{
		"rounds: 3,",
		"cassnet stream, unpaced, round 2",
		"NATS test, unpaced, round 3",
		"cassnet stream, 1000/s, round 1",
		"writes/s vs etcd by round: 0.500, 1.200, 2.000",
		"msgs/s stream vs NATS by round: 0.600, 0.250, 0.600",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	// The ratio is the third field from the end (before the goal's two).
	ratioOf := func(prefix string) string {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), prefix) {
				if f := strings.Fields(line); len(f) >= 3 {
					return f[len(f)-3]
				}
			}
		}
		return ""
	}
	if got := ratioOf("msgs/s stream vs NATS, median of 3 rounds"); got != "0.600" {
		t.Errorf("stream ratio %q, want the paired median 0.600", got)
	}
	// Both medians are 200 writes/s; the rounds' own ratios' median is 1.2.
	if got := ratioOf("writes/s vs etcd "); got != "1.200" {
		t.Errorf("writes ratio %q, want the paired median 1.200", got)
	}
}
