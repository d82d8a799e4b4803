package pubsub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// The head ledger: what an origin acknowledged, kept across a crash.
//
// Publish acknowledges a message once the flusher has handed it to
// GossipSub, not once a peer has it. An origin killed in between (a few
// microseconds to a millisecond; the chaos harness hit it) took with it
// the only copy, and with it the only knowledge that the sequence number
// existed: receivers that had everything before it saw nothing wrong, so
// the loss was silent. So before each hand-over the flusher appends the
// stream's new head {topic, epoch, seq, publish time} to this file, and a
// restarted node announces the heads of its previous life's streams for
// the history age (announce.go). Receivers then repair what they miss
// and report what nobody holds as a gap, as for any lost tail.
//
// The file lives in the data dir and is written without fsync: a killed
// process loses nothing the kernel already has. A power loss may lose
// the last records (the machine and its history are gone then too); a
// torn or corrupt tail is ignored and cut at the next start.
//
// Format: the header line, then records of
//
//	crc32c(payload) uint32 BE | len(payload) uint16 BE | payload
//	payload: uvarint epoch | uvarint seq | varint last publish (Unix ns) | topic name
const (
	headsHeader = "cassnet pubsub heads 1\n"
	// headsCompactAt is the size past which the file is rewritten with
	// one record per stream.
	headsCompactAt = 4 << 20
	// maxHeadPayload fits the longest valid topic name (TopicName).
	maxHeadPayload = 3*binary.MaxVarintLen64 + len(topicPrefix) + maxTenantLen + 1 + maxTopicLen
)

var headsCRC = crc32.MakeTable(crc32.Castagnoli)

// headRecord is the newest head of one stream this node published.
type headRecord struct {
	topic string
	epoch uint64
	seq   uint64
	last  int64 // publish time of seq, Unix ns
}

type streamKey struct {
	topic string
	epoch uint64
}

// headLedger appends head records. record is called by every topic's
// flusher, so it is safe for concurrent use.
type headLedger struct {
	path string
	age  time.Duration // records older than this are dropped at compaction
	now  func() time.Time

	mu     sync.Mutex
	f      *os.File
	size   int64
	latest map[streamKey]headRecord
}

// openHeadLedger reads path (a missing file is an empty ledger), returns
// the records newer than age, and rewrites the file with just those, so
// that it does not grow across restarts.
func openHeadLedger(path string, age time.Duration, now func() time.Time) (*headLedger, []headRecord, error) {
	var recs []headRecord
	if b, err := os.ReadFile(path); err == nil {
		recs = decodeHeads(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("pubsub: read %s: %w", path, err)
	}
	l := &headLedger{path: path, age: age, now: now, latest: make(map[streamKey]headRecord)}
	cutoff := now().Add(-age).UnixNano()
	for _, r := range recs {
		k := streamKey{r.topic, r.epoch}
		if prev, ok := l.latest[k]; (!ok || r.seq > prev.seq) && r.last >= cutoff {
			l.latest[k] = r
		}
	}
	if err := l.rewriteLocked(); err != nil {
		return nil, nil, err
	}
	live := make([]headRecord, 0, len(l.latest))
	for _, r := range l.latest {
		live = append(live, r)
	}
	return l, live, nil
}

// decodeHeads returns the records of a ledger file up to the first torn
// or corrupt one. It never fails: what it cannot read is not a record.
func decodeHeads(b []byte) []headRecord {
	if len(b) < len(headsHeader) || string(b[:len(headsHeader)]) != headsHeader {
		return nil
	}
	b = b[len(headsHeader):]
	var out []headRecord
	for len(b) >= 6 {
		sum, n := binary.BigEndian.Uint32(b), int(binary.BigEndian.Uint16(b[4:]))
		if n > maxHeadPayload || len(b) < 6+n {
			break
		}
		p := b[6 : 6+n]
		if crc32.Checksum(p, headsCRC) != sum {
			break
		}
		r, ok := decodeHeadPayload(p)
		if !ok {
			break
		}
		out = append(out, r)
		b = b[6+n:]
	}
	return out
}

func decodeHeadPayload(p []byte) (headRecord, bool) {
	epoch, n1 := binary.Uvarint(p)
	if n1 <= 0 {
		return headRecord{}, false
	}
	seq, n2 := binary.Uvarint(p[n1:])
	if n2 <= 0 {
		return headRecord{}, false
	}
	last, n3 := binary.Varint(p[n1+n2:])
	if n3 <= 0 {
		return headRecord{}, false
	}
	topic := string(p[n1+n2+n3:])
	if epoch == 0 || seq == 0 || parseTopicName(topic) != nil {
		return headRecord{}, false
	}
	return headRecord{topic: topic, epoch: epoch, seq: seq, last: last}, true
}

// appendHead appends r's framed record to b.
func appendHead(b []byte, r headRecord) []byte {
	var p [maxHeadPayload]byte
	n := binary.PutUvarint(p[:], r.epoch)
	n += binary.PutUvarint(p[n:], r.seq)
	n += binary.PutVarint(p[n:], r.last)
	n += copy(p[n:], r.topic)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(p[:n], headsCRC))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, p[:n]...)
}

// record appends r: called before the messages up to r.seq are handed
// to GossipSub, so that they are acknowledged only once it is on record.
// A write error is returned (the caller logs it); the publish goes on
// without the crash record, as it would have before the ledger existed.
func (l *headLedger) record(r headRecord) error {
	var buf [6 + maxHeadPayload]byte
	rec := appendHead(buf[:0], r)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latest[streamKey{r.topic, r.epoch}] = r
	if l.f == nil {
		return errors.New("the head ledger is closed")
	}
	if l.size+int64(len(rec)) > headsCompactAt {
		if err := l.rewriteLocked(); err != nil {
			return err
		}
		return nil // the rewrite holds r
	}
	n, err := l.f.Write(rec)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("pubsub: append to %s: %w", l.path, err)
	}
	return nil
}

// rewriteLocked replaces the file with the header and one record per
// stream published within age, through a temporary file and a rename,
// and reopens it for appending.
func (l *headLedger) rewriteLocked() error {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	cutoff := l.now().Add(-l.age).UnixNano()
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("pubsub: head ledger: %w", err)
	}
	w := bufio.NewWriter(f)
	_, _ = io.WriteString(w, headsHeader)
	size := int64(len(headsHeader))
	var buf []byte
	for k, r := range l.latest {
		if r.last < cutoff {
			delete(l.latest, k)
			continue
		}
		buf = appendHead(buf[:0], r)
		_, _ = w.Write(buf)
		size += int64(len(buf))
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pubsub: head ledger: %w", err)
	}
	if l.f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return fmt.Errorf("pubsub: head ledger: %w", err)
	}
	l.size = size
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		_ = d.Sync() // the rename, where the platform allows it
		_ = d.Close()
	}
	return nil
}

// recordHead writes the head of t's own stream to the ledger before its
// messages are handed to GossipSub. A failing disk is logged once per
// failure streak; acknowledgements go on without the crash record.
func (t *topic) recordHead(last *cassnetv1.Envelope) {
	h := t.s.heads
	if h == nil {
		return
	}
	err := h.record(headRecord{topic: t.name, epoch: last.GetEpoch(), seq: last.GetSeq(), last: last.GetPublishUnixNano()})
	switch {
	case err != nil && !t.s.headsFailed.Swap(true):
		t.s.log.Warn("cannot record a stream head: a message acknowledged just before a crash could vanish without a gap", "err", err)
	case err == nil && t.s.headsFailed.Load() && t.s.headsFailed.Swap(false):
		t.s.log.Info("stream heads are recorded again")
	}
}

// close closes the file; later records fail.
func (l *headLedger) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}
