package state_test

// The snapshot pause (issue 10): how long FSM.Snapshot takes with a large
// state, and how long Apply waits because of it. It uses only the raft.FSM
// surface (NewFSM, Apply, Snapshot, Persist, Release) and CreateBan
// commands, so it ports to any FSM that keeps that surface: change
// newPauseFSM and pauseBan.
//
//	go test ./state/ -run '^$' -bench SnapshotPause -benchtime 1x -v
//
// prints one line per figure (PAUSE ...) and reports them as benchmark
// metrics. TestSnapshotPauseSmall runs the same code on a small state in
// `make test`, so the benchmark keeps working.

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// newPauseFSM is the FSM under measurement. After the refactor: the new
// engine with every domain module registered.
func newPauseFSM() *consensus.FSM {
	f, err := consensus.NewFSM(state.New().Modules(), nil)
	if err != nil {
		panic(err)
	}
	return f
}

// pauseBan is the i-th CreateBan log entry: tenant "bench", unique ban
// and player ids (one player in four has two bans), leader time moving
// one millisecond per entry, an hour's duration so nothing expires.
func pauseBan(tb testing.TB, i int) *raft.Log {
	c := &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:bench",
		TimeUnixNano: testEpoch.Add(time.Duration(i) * time.Millisecond).UnixNano(),
		Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
			Id: fmt.Sprintf("ban_%016x", i), Tenant: "bench", PlayerId: fmt.Sprintf("player-%07d", i*3/4),
			Reason: "cheating in ranked play", DurationSeconds: 3600,
		}}}
	data, err := consensus.EncodeCommand(c)
	if err != nil {
		tb.Fatal(err)
	}
	return &raft.Log{Index: uint64(i) + 2, Term: 1, Type: raft.LogCommand, Data: data}
}

// fillPause returns an FSM holding tenant "bench" and n bans, applied
// through FSM.Apply, and the index of the next entry.
func fillPause(tb testing.TB, n int) (*consensus.FSM, int) {
	tb.Helper()
	f := newPauseFSM()
	tenant, err := consensus.EncodeCommand(&cassnetv1.Command{Version: consensus.CommandVersion, Actor: "op:bench",
		TimeUnixNano: testEpoch.UnixNano(),
		Op:           &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "bench"}}})
	if err != nil {
		tb.Fatal(err)
	}
	if res := f.Apply(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: tenant}).(*consensus.ApplyResult); res.Err != nil {
		tb.Fatal(res.Err)
	}
	for i := range n {
		if res := f.Apply(pauseBan(tb, i)).(*consensus.ApplyResult); res.Err != nil {
			tb.Fatal(res.Err)
		}
	}
	return f, n
}

// durStats summarises a set of durations (nearest rank).
type durStats struct {
	N             int
	P50, P99, Max time.Duration
}

func statsOf(ds []time.Duration) durStats {
	if len(ds) == 0 {
		return durStats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[min(len(s)-1, int(float64(len(s))*p))] }
	return durStats{N: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

func (d durStats) String() string {
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", d.N, d.P50, d.P99, d.Max)
}

// pauseConfig sets the load of one measurement.
type pauseConfig struct {
	Bans      int           // state size before measuring
	Snapshots int           // snapshots taken in each phase
	Every     time.Duration // one snapshot this often
	Rate      int           // applies per second offered meanwhile
}

// pauseResult is what measureSnapshotPause found.
type pauseResult struct {
	// Snapshot is the duration of FSM.Snapshot() alone; Persist of
	// FSMSnapshot.Persist into a sink that discards (it runs beside
	// Apply, not in its way); Hash of State.Hash() after a change (GET
	// /v1/cluster/raft and the convergence checks call it).
	Snapshot, Persist, Hash durStats
	// Baseline is the Apply latency (committed to applied) with no
	// snapshot, Serial with snapshots taken on the FSM goroutine between
	// applies, as hashicorp/raft's runFSM does: the pause a write sees.
	Baseline, Serial durStats
	// SerialNoPersist is Serial with the snapshots released unpersisted:
	// what the FSM.Snapshot() call alone costs a write, without the CPU
	// and GC work of encoding beside it.
	SerialNoPersist durStats
	// Concurrent is the duration of FSM.Apply called on its own goroutine
	// while another takes snapshots: the lock wait alone.
	Concurrent durStats
}

// measureSnapshotPause fills an FSM with cfg.Bans bans and measures.
func measureSnapshotPause(tb testing.TB, cfg pauseConfig) pauseResult {
	tb.Helper()
	f, next := fillPause(tb, cfg.Bans)
	var res pauseResult

	// Snapshot, Persist and Hash on their own.
	var snaps, persists, hashes []time.Duration
	for range cfg.Snapshots {
		t0 := time.Now()
		s, err := f.Snapshot()
		snaps = append(snaps, time.Since(t0))
		if err != nil {
			tb.Fatal(err)
		}
		t0 = time.Now()
		if err := s.Persist(&discardSink{}); err != nil {
			tb.Fatal(err)
		}
		persists = append(persists, time.Since(t0))
		s.Release()
		if res := f.Apply(pauseBan(tb, next)).(*consensus.ApplyResult); res.Err != nil { // a change, so Hash recomputes
			tb.Fatal(res.Err)
		}
		next++
		t0 = time.Now()
		_ = f.Hash()
		hashes = append(hashes, time.Since(t0))
	}
	res.Snapshot, res.Persist, res.Hash = statsOf(snaps), statsOf(persists), statsOf(hashes)

	// Serial: one goroutine applies entries and takes snapshots, in the
	// order they are asked for, as raft's FSM goroutine does; entries are
	// offered at cfg.Rate and their latency counted from the offer.
	serial := func(withSnapshots, persist bool) durStats {
		type req struct {
			log *raft.Log
			at  time.Time
			// persisted, if set, asks for a snapshot and is closed once
			// it is persisted: raft takes one snapshot at a time.
			persisted chan struct{}
		}
		// Long enough for every snapshot, each cfg.Every after the last
		// one was persisted.
		window := time.Duration(cfg.Snapshots) * (cfg.Every + res.Snapshot.P50 + res.Persist.P50)
		n := int(window.Seconds() * float64(cfg.Rate))
		logs := make([]*raft.Log, n)
		for i := range logs {
			logs[i] = pauseBan(tb, next+i)
		}
		next += n
		ch := make(chan req, n+cfg.Snapshots+1)
		var lat []time.Duration
		var persistWG sync.WaitGroup
		done := make(chan struct{})
		go func() { // the FSM goroutine
			defer close(done)
			for r := range ch {
				if r.persisted != nil {
					s, err := f.Snapshot()
					if err != nil {
						tb.Error(err)
						close(r.persisted)
						continue
					}
					persistWG.Add(1)
					go func() { // raft persists on its snapshot goroutine
						defer persistWG.Done()
						defer close(r.persisted)
						if persist {
							_ = s.Persist(&discardSink{})
						}
						s.Release()
					}()
					continue
				}
				f.Apply(r.log)
				lat = append(lat, time.Since(r.at))
			}
		}()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the snapshot requests
			defer wg.Done()
			if !withSnapshots {
				return
			}
			for range cfg.Snapshots {
				time.Sleep(cfg.Every)
				done := make(chan struct{})
				ch <- req{persisted: done}
				<-done
			}
		}()
		start := time.Now()
		interval := time.Second / time.Duration(cfg.Rate)
		for i, l := range logs { // the commits, on a schedule
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			ch <- req{log: l, at: time.Now()}
		}
		wg.Wait() // every snapshot taken and persisted
		close(ch)
		<-done
		persistWG.Wait()
		return statsOf(lat)
	}
	res.Baseline = serial(false, false)
	res.Serial = serial(true, true)
	res.SerialNoPersist = serial(true, false)

	// Concurrent: Apply on one goroutine, Snapshot on another.
	n := cfg.Snapshots * 200
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = pauseBan(tb, next+i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(cfg.Every / 4):
			}
			if s, err := f.Snapshot(); err == nil {
				s.Release()
			}
		}
	}()
	var lat []time.Duration
	interval := cfg.Every * time.Duration(cfg.Snapshots) / time.Duration(n)
	for _, l := range logs {
		t0 := time.Now()
		f.Apply(l)
		lat = append(lat, time.Since(t0))
		time.Sleep(interval)
	}
	close(stop)
	wg.Wait()
	res.Concurrent = statsOf(lat)
	return res
}

func logPause(tb testing.TB, cfg pauseConfig, r pauseResult) {
	tb.Helper()
	tb.Logf("PAUSE bans=%d snapshots=%d every=%s rate=%d/s", cfg.Bans, cfg.Snapshots, cfg.Every, cfg.Rate)
	tb.Logf("PAUSE FSM.Snapshot()                 %s", r.Snapshot)
	tb.Logf("PAUSE FSMSnapshot.Persist (discard)  %s", r.Persist)
	tb.Logf("PAUSE State.Hash() after a change    %s", r.Hash)
	tb.Logf("PAUSE apply latency, no snapshots    %s", r.Baseline)
	tb.Logf("PAUSE apply latency, snapshots (raft-serialised) %s", r.Serial)
	tb.Logf("PAUSE apply latency, snapshots (raft-serialised), not persisted %s", r.SerialNoPersist)
	tb.Logf("PAUSE Apply duration, snapshots on another goroutine %s", r.Concurrent)
}

// BenchmarkSnapshotPause measures at 100,000 bans. Run it with
// -benchtime 1x: each iteration is a whole measurement.
func BenchmarkSnapshotPause(b *testing.B) {
	cfg := pauseConfig{Bans: 100_000, Snapshots: 20, Every: 100 * time.Millisecond, Rate: 2000}
	for range b.N {
		r := measureSnapshotPause(b, cfg)
		logPause(b, cfg, r)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(r.Snapshot.P50), "snapshot-p50-ms")
		b.ReportMetric(ms(r.Snapshot.Max), "snapshot-max-ms")
		b.ReportMetric(ms(r.Serial.P99), "apply-wait-p99-ms")
		b.ReportMetric(ms(r.Serial.Max), "apply-wait-max-ms")
		b.ReportMetric(ms(r.Baseline.Max), "apply-nosnap-max-ms")
		b.ReportMetric(ms(r.SerialNoPersist.Max), "apply-wait-nopersist-max-ms")
		b.ReportMetric(ms(r.Concurrent.Max), "apply-concurrent-max-ms")
		b.ReportMetric(ms(r.Hash.P50), "hash-p50-ms")
	}
}

// TestSnapshotPauseSmall keeps the measurement code working; it asserts
// only that every phase measured something.
func TestSnapshotPauseSmall(t *testing.T) {
	cfg := pauseConfig{Bans: 500, Snapshots: 2, Every: 20 * time.Millisecond, Rate: 1000}
	r := measureSnapshotPause(t, cfg)
	logPause(t, cfg, r)
	for name, s := range map[string]durStats{"snapshot": r.Snapshot, "persist": r.Persist, "hash": r.Hash,
		"baseline": r.Baseline, "serial": r.Serial, "serial-no-persist": r.SerialNoPersist, "concurrent": r.Concurrent} {
		if s.N == 0 || s.Max <= 0 {
			t.Errorf("%s: nothing measured (%s)", name, s)
		}
	}
}
