package pubsub

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func sortHeads(rs []headRecord) []headRecord {
	slices.SortFunc(rs, func(a, b headRecord) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.epoch, b.epoch))
	})
	return rs
}

// TestHeadLedgerKeepsNewestPerStream: a reopened ledger returns the
// newest head of each stream, and drops streams older than the age.
func TestHeadLedgerKeepsNewestPerStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heads")
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	l, prev, err := openHeadLedger(path, time.Minute, clock)
	if err != nil || len(prev) != 0 {
		t.Fatalf("new ledger: %v %v", prev, err)
	}
	recent, old := now.Add(-10*time.Second).UnixNano(), now.Add(-2*time.Minute).UnixNano()
	for seq := uint64(1); seq <= 100; seq++ {
		mustRecord(t, l, headRecord{topic: "cass/acme/a", epoch: 7, seq: seq, last: recent})
	}
	mustRecord(t, l, headRecord{topic: "cass/acme/b", epoch: 9, seq: 3, last: recent})
	mustRecord(t, l, headRecord{topic: "cass/acme/c", epoch: 11, seq: 5, last: old})
	l.close()

	l2, got, err := openHeadLedger(path, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.close()
	want := []headRecord{{"cass/acme/a", 7, 100, recent}, {"cass/acme/b", 9, 3, recent}}
	if got = sortHeads(got); !slices.Equal(got, want) {
		t.Fatalf("reopened: %+v, want %+v", got, want)
	}
	// The reopen rewrote the file with one record per live stream.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if recs := decodeHeads(b); len(recs) != 2 {
		t.Fatalf("rewritten file holds %d records, want 2", len(recs))
	}
}

func mustRecord(t *testing.T, l *headLedger, r headRecord) {
	t.Helper()
	if err := l.record(r); err != nil {
		t.Fatal(err)
	}
}

// TestHeadLedgerTornTail: a torn or corrupt record ends the file; what
// precedes it is kept.
func TestHeadLedgerTornTail(t *testing.T) {
	var b []byte
	b = append(b, headsHeader...)
	b = appendHead(b, headRecord{topic: "cass/acme/a", epoch: 1, seq: 1, last: 5})
	b = appendHead(b, headRecord{topic: "cass/acme/a", epoch: 1, seq: 2, last: 6})
	full := len(b)
	b = appendHead(b, headRecord{topic: "cass/acme/a", epoch: 1, seq: 3, last: 7})
	if got := decodeHeads(b); len(got) != 3 {
		t.Fatalf("intact: %d records", len(got))
	}
	if got := decodeHeads(b[:len(b)-1]); len(got) != 2 {
		t.Fatalf("torn: %d records, want 2", len(got))
	}
	bad := slices.Clone(b)
	bad[full+8] ^= 0xff // inside the third payload
	if got := decodeHeads(bad); len(got) != 2 || got[1].seq != 2 {
		t.Fatalf("corrupt: %+v, want the first two", got)
	}
	if got := decodeHeads(b[1:]); got != nil {
		t.Fatalf("no header: %+v", got)
	}
}

// TestHeadLedgerCompacts: past headsCompactAt the file is rewritten with
// one record per stream instead of growing.
func TestHeadLedgerCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heads")
	now := time.Now()
	l, _, err := openHeadLedger(path, time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	rec := len(appendHead(nil, headRecord{topic: "cass/acme/a", epoch: 1, seq: 1 << 20, last: now.UnixNano()}))
	n := headsCompactAt/rec + 10
	for i := range n {
		mustRecord(t, l, headRecord{topic: "cass/acme/a", epoch: uint64(1 + i%2), seq: uint64(1<<20 + i), last: now.UnixNano()})
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= headsCompactAt {
		t.Fatalf("ledger is %d bytes after %d records, want it compacted below %d", fi.Size(), n, headsCompactAt)
	}
	b, _ := os.ReadFile(path)
	newest := map[uint64]uint64{}
	for _, r := range decodeHeads(b) {
		newest[r.epoch] = max(newest[r.epoch], r.seq)
	}
	if newest[1] != uint64(1<<20+n-2) && newest[1] != uint64(1<<20+n-1) || len(newest) != 2 {
		t.Fatalf("after compaction the newest heads are %v (%d records written)", newest, n)
	}
}

// TestRestartedOriginReportsLostTail is the crash the ledger exists for:
// the origin acknowledges messages 6..10 that no peer received, and
// "crashes" (its memory is gone). Restarted with the same identity and
// data, it announces the old stream's head, and the subscriber gets a gap
// for 6..10 instead of nothing. Without the ledger (HeadsPath empty) no
// event would ever come and the test would time out.
func TestRestartedOriginReportsLostTail(t *testing.T) {
	var firstLife atomic.Bool
	firstLife.Store(true)
	heads := filepath.Join(t.TempDir(), "heads")
	tc := newTestCluster(t, 3, func(i int, c *Config) {
		if i == 2 {
			c.HeadsPath = heads
			return
		}
		c.dropGossip = func(e *cassnetv1.Envelope) bool {
			return firstLife.Load() && e.GetOrigin() == "node-3" && e.GetSeq() >= 6
		}
	})
	sub := tc.subscribeCarried(t, "acme", "crash")
	publishN(t, tc.svcs[2], "acme", "crash", 10)
	checkMessages(t, collectEvents(t, sub, 5, 10*time.Second), 1, 5)

	tc.restart(t, 2)
	firstLife.Store(false)
	evs := collectEvents(t, sub, 1, 30*time.Second)
	if g := evs[0]; g.Kind != EventGap || g.Origin != "node-3" || g.From != 6 || g.To != 10 {
		t.Fatalf("after the restart: %+v, want a gap 6..10 from node-3", g)
	}
}

// FuzzDecodeHeads: any file decodes without panicking, only to valid
// records, which encode to a file that decodes to the same records.
func FuzzDecodeHeads(f *testing.F) {
	var b []byte
	b = append(b, headsHeader...)
	b = appendHead(b, headRecord{topic: "cass/acme/a", epoch: 1, seq: 2, last: 3})
	b = appendHead(b, headRecord{topic: "cass/acme/bb", epoch: 1 << 60, seq: 1 << 40, last: -1})
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte(headsHeader))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := decodeHeads(data)
		if len(recs) == 0 {
			return
		}
		enc := []byte(headsHeader)
		for _, r := range recs {
			if r.epoch == 0 || r.seq == 0 || parseTopicName(r.topic) != nil {
				t.Fatalf("decoded an invalid record %+v", r)
			}
			enc = appendHead(enc, r)
		}
		if !slices.Equal(decodeHeads(enc), recs) {
			t.Fatalf("re-encoding %+v does not decode to itself", recs)
		}
	})
}
