package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func testLogs(from, n uint64) []*raft.Log {
	var logs []*raft.Log
	for i := from; i < from+n; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 3, Type: raft.LogCommand, Data: fmt.Appendf(nil, "entry %d", i)})
	}
	return logs
}

// reopenHasData opens the log store of dir and checks that it is of
// wantKind and holds what fill wrote.
func reopenHasData(t *testing.T, dir, wantKind string) {
	t.Helper()
	s, kind, err := openLogStore(dir, hclog.NewNullLogger(), 0, "") // an existing dir keeps its kind
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if kind != wantKind {
		t.Fatalf("reopened as %q, want %q", kind, wantKind)
	}
	last, err := s.LastIndex()
	if err != nil || last != 5 {
		t.Fatalf("LastIndex = %d, %v; want 5", last, err)
	}
	var l raft.Log
	if err := s.GetLog(4, &l); err != nil || !bytes.Equal(l.Data, []byte("entry 4")) {
		t.Fatalf("GetLog(4) = %q, %v", l.Data, err)
	}
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term != 3 {
		t.Fatalf("CurrentTerm = %d, %v; want 3", term, err)
	}
}

// fill stores entries 1..5 (term 3) and CurrentTerm 3.
func fill(t *testing.T, s logStore) {
	t.Helper()
	if err := s.StoreLogs(testLogs(1, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
}

// TestNewDataDirKind: a new data dir gets raft-boltdb unless the WAL is
// asked for; an unknown kind is refused.
func TestNewDataDirKind(t *testing.T) {
	for _, kind := range []string{"", LogStoreBolt} {
		dir := t.TempDir()
		s, got, err := openLogStore(dir, hclog.NewNullLogger(), 0, kind)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		s.Close()
		if got != LogStoreBolt {
			t.Fatalf("new data dir with %q opened as %q, want %q", kind, got, LogStoreBolt)
		}
		reopenHasData(t, dir, LogStoreBolt)
		// Asking for the WAL later does not convert it.
		s, got, err = openLogStore(dir, hclog.NewNullLogger(), 0, LogStoreWAL)
		if err != nil || got != LogStoreBolt {
			t.Fatalf("reopened with wal asked: %q, %v", got, err)
		}
		s.Close()
	}
	if _, _, err := openLogStore(t.TempDir(), hclog.NewNullLogger(), 0, "rocksdb"); err == nil {
		t.Fatal("an unknown log store kind was accepted")
	}
}

func TestNewDataDirUsesWALAndStopsOldReleases(t *testing.T) {
	dir := t.TempDir()
	if ok, err := hasLogStore(dir); err != nil || ok {
		t.Fatalf("hasLogStore(empty) = %v, %v", ok, err)
	}
	s, kind, err := openLogStore(dir, hclog.NewNullLogger(), 0, LogStoreWAL)
	if err != nil {
		t.Fatal(err)
	}
	if kind != LogStoreWAL {
		t.Fatalf("new data dir opened as %q, want %q", kind, LogStoreWAL)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := hasLogStore(dir); err != nil || !ok {
		t.Fatalf("hasLogStore(wal) = %v, %v", ok, err)
	}
	reopenHasData(t, dir, LogStoreWAL)

	// An earlier release opens raft/raft.db with raft-boltdb: it must
	// refuse the marker rather than start an empty log over it.
	old, err := raftboltdb.NewBoltStore(filepath.Join(dir, boltLogName))
	if err == nil {
		old.Close()
		t.Fatal("raft-boltdb opened the WAL marker as a log")
	}
}

func TestExistingBoltDataDirStaysBolt(t *testing.T) {
	dir := t.TempDir()
	b, err := raftboltdb.NewBoltStore(filepath.Join(dir, boltLogName))
	if err != nil {
		t.Fatal(err)
	}
	fill(t, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	reopenHasData(t, dir, LogStoreBolt)
	if _, err := os.Stat(filepath.Join(dir, walDirName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("opening a bolt data dir created a WAL (%v)", err)
	}
}

// A crash after the WAL dir was made and before the marker was written
// leaves a data dir that still opens as a WAL, and gets its marker.
func TestWALWithoutMarkerGetsOne(t *testing.T) {
	dir := t.TempDir()
	s, _, err := openLogStore(dir, hclog.NewNullLogger(), 0, LogStoreWAL)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	s.Close()
	if err := os.Remove(filepath.Join(dir, boltLogName)); err != nil {
		t.Fatal(err)
	}
	reopenHasData(t, dir, LogStoreWAL)
	got, err := os.ReadFile(filepath.Join(dir, boltLogName))
	if err != nil || string(got) != walMarker {
		t.Fatalf("marker = %q, %v", got, err)
	}
}

func TestOpenLogStoreInUse(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			var held logStore
			var err error
			if kind == LogStoreBolt {
				held, err = raftboltdb.NewBoltStore(filepath.Join(dir, boltLogName))
			} else {
				held, _, err = openLogStore(dir, hclog.NewNullLogger(), 0, LogStoreWAL)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			start := time.Now()
			s, _, err := openLogStore(dir, hclog.NewNullLogger(), 100*time.Millisecond, "")
			if err == nil {
				s.Close()
				t.Fatal("opened a log store another handle holds")
			}
			if !errors.Is(err, ErrDataDirInUse) {
				t.Fatalf("err = %v, want ErrDataDirInUse", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %s to notice", d)
			}
		})
	}
}

// BenchmarkLogStoreAppend is raft's append (StoreLogs, durable) of a batch
// of ~300-byte entries, the size of a ban command, on this machine's
// disk: raft-wal against raft-boltdb. hashicorp/raft appends one batch of
// up to MaxAppendEntries (64) proposals at a time on the leader, and each
// AppendEntries request on a follower.
func BenchmarkLogStoreAppend(b *testing.B) {
	open := map[string]func(b *testing.B) logStore{
		LogStoreWAL: func(b *testing.B) logStore {
			s, err := openWAL(filepath.Join(b.TempDir(), walDirName), hclog.NewNullLogger(), 0)
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		LogStoreBolt: func(b *testing.B) logStore {
			s, err := openBolt(filepath.Join(b.TempDir(), boltLogName), 0)
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	data := bytes.Repeat([]byte("x"), 300)
	for _, batch := range []int{1, 16, 64} {
		for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				s := open[kind](b)
				defer s.Close()
				next := uint64(1)
				logs := make([]*raft.Log, batch)
				b.SetBytes(int64(batch * len(data)))
				for b.Loop() {
					for i := range logs {
						logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data}
						next++
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// TestSuffixTruncationSurvivesRestart is what a follower does when a new
// leader's log disagrees with its tail (raft's "clearing log suffix"):
// delete the last entries, append the leader's, and later restart. Every
// entry must still read back after the restart. raft-wal v0.4.0 marked
// the truncated segment sealed without writing its index block, so the
// restarted node panicked in raft.NewRaft ("sealed segment has no index
// block", hashicorp/raft-wal#31); the chaos harness caught it after a
// partition and a kill.
func TestSuffixTruncationSurvivesRestart(t *testing.T) {
	for _, kind := range []string{LogStoreWAL, LogStoreBolt} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s, _, err := openLogStore(dir, hclog.NewNullLogger(), 0, kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(testLogs(1, 5)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(4, 5); err != nil {
				t.Fatal(err)
			}
			newer := testLogs(4, 4) // 4..7, from the new leader's term
			for _, l := range newer {
				l.Term = 4
			}
			if err := s.StoreLogs(newer); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s, _, err = openLogStore(dir, hclog.NewNullLogger(), 0, kind)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if last, err := s.LastIndex(); err != nil || last != 7 {
				t.Fatalf("LastIndex after restart = %d, %v; want 7", last, err)
			}
			for i := uint64(1); i <= 7; i++ {
				var l raft.Log
				if err := s.GetLog(i, &l); err != nil {
					t.Fatalf("GetLog(%d) after restart: %v", i, err)
				}
				wantTerm := uint64(3)
				if i >= 4 {
					wantTerm = 4
				}
				if l.Index != i || l.Term != wantTerm || !bytes.Equal(l.Data, fmt.Appendf(nil, "entry %d", i)) {
					t.Fatalf("entry %d after restart = index %d term %d %q", i, l.Index, l.Term, l.Data)
				}
			}
		})
	}
}

// unreadableLog is a log store whose entry at bad cannot be read, as a
// damaged data dir's.
type unreadableLog struct {
	*raft.InmemStore
	bad   uint64 // GetLog fails
	buggy uint64 // GetLog panics with a runtime error
}

func (l unreadableLog) GetLog(index uint64, out *raft.Log) error {
	if index == l.bad {
		return errors.New("sealed segment has no index block")
	}
	if index == l.buggy {
		var entries []raft.Log
		*out = entries[index] // a runtime error: a bug, not a damaged log
	}
	return l.InmemStore.GetLog(index, out)
}

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// TestUnreadableLogIsAnError: raft.NewRaft panics when an entry of the
// log cannot be read on start; the store answers ErrLogUnreadable, which
// says what to do, instead of crashing the agent.
func TestUnreadableLogIsAnError(t *testing.T) {
	mem := raft.NewInmemStore()
	if err := mem.StoreLogs(testLogs(1, 3)); err != nil {
		t.Fatal(err)
	}
	logs := unreadableLog{InmemStore: mem, bad: 2}
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.Logger = hclog.NewNullLogger()
	_, trans := raft.NewInmemTransport("n1")
	r, err := startRaft(conf, nopFSM{}, logs, mem, raft.NewInmemSnapshotStore(), trans)
	if err == nil {
		r.Shutdown().Error()
		t.Fatal("raft started over a log with an unreadable entry")
	}
	if !errors.Is(err, ErrLogUnreadable) || !strings.Contains(err.Error(), "sealed segment has no index block") {
		t.Fatalf("err = %v, want ErrLogUnreadable with the store's reason", err)
	}

	// A runtime error is a bug, not a damaged log: it is not disguised
	// as one.
	logs.bad, logs.buggy = 0, 2
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		r, err = startRaft(conf, nopFSM{}, logs, mem, raft.NewInmemSnapshotStore(), trans)
	}()
	if _, ok := panicked.(runtime.Error); !ok {
		t.Fatalf("a runtime error in the log store came out as panic %v (%T), return %v, %v; want the panic itself", panicked, panicked, r, err)
	}

	// The same store with every entry readable starts.
	logs.buggy = 0
	r, err = startRaft(conf, nopFSM{}, logs, mem, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
}
