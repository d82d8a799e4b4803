package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
