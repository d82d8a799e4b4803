package pubsub

import (
	"sort"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// entryKind is what a history entry records.
type entryKind uint8

const (
	entryMessage entryKind = iota // a message delivered on this node
	entryGap                      // messages declared lost: [from, to]
)

// entry is one event of a topic's history, in this node's delivery order.
// Entries are immutable once appended.
type entry struct {
	idx      uint64 // position in the history, from 1
	kind     entryKind
	at       time.Time // when this node appended it (local clock)
	st       *stream
	env      *cassnetv1.Envelope // entryMessage
	from, to uint64              // entryGap
}

// stream is one origin epoch on one topic, as this node knows it.
type stream struct {
	origin string
	epoch  uint64
	ord    orderer
	// retained are this stream's messages still in the history, in
	// sequence order (delivery order within a stream is sequence order).
	retained []*entry
	// lastTime is the publish time (Unix ns) of the last delivered seq.
	lastTime int64
	// touched is the last local activity, for forgetting idle streams.
	touched time.Time
	// floor, when non-zero, filters the first repair of a stream seen
	// first mid-way: only messages published at or after it are wanted.
	floor     int64
	repairing bool
	attempts  int
	// own is set for the stream this node publishes, ended for those it
	// published in its previous life (from the head ledger, heads.go);
	// announce drives the head announcements of both.
	own      bool
	ended    bool
	announce announcer
}

// delivered is the last sequence number delivered (0 if none).
func (st *stream) delivered() uint64 {
	if st.ord.next == 0 {
		return 0
	}
	return st.ord.next - 1
}

// firstRetained is the lowest retained sequence number (0 if none).
func (st *stream) firstRetained() uint64 {
	if len(st.retained) == 0 {
		return 0
	}
	return st.retained[0].env.GetSeq()
}

// lookup returns the retained messages with from <= seq <= to.
func (st *stream) lookup(from, to uint64) []*cassnetv1.Envelope {
	i := sort.Search(len(st.retained), func(i int) bool { return st.retained[i].env.GetSeq() >= from })
	var out []*cassnetv1.Envelope
	for ; i < len(st.retained) && st.retained[i].env.GetSeq() <= to; i++ {
		out = append(out, st.retained[i].env)
	}
	return out
}

// summary describes the stream for a backfill peer.
func (st *stream) summary() *cassnetv1.StreamSummary {
	return &cassnetv1.StreamSummary{
		Origin: st.origin, Epoch: st.epoch, FirstSeq: st.firstRetained(),
		LastSeq: max(st.delivered(), st.ord.head), LastUnixNano: st.lastTime,
	}
}

// history is a topic's bounded log: at most maxLen entries, none older
// than maxAge. Subscribers read it by index; backfill serves from it.
type history struct {
	entries     []*entry // entries[i].idx == first+i
	first, next uint64   // empty when first == next
	maxLen      int
	maxAge      time.Duration
}

func newHistory(maxLen int, maxAge time.Duration) *history {
	return &history{first: 1, next: 1, maxLen: maxLen, maxAge: maxAge}
}

// add appends e and evicts what no longer fits.
func (h *history) add(e *entry) {
	e.idx = h.next
	h.next++
	h.entries = append(h.entries, e)
	if e.kind == entryMessage {
		e.st.retained = append(e.st.retained, e)
	}
	h.evict(e.at)
}

// get returns the entry at idx, or nil if it was evicted or is not yet
// written.
func (h *history) get(idx uint64) *entry {
	if idx < h.first || idx >= h.next {
		return nil
	}
	return h.entries[idx-h.first]
}

// evict drops entries over the count bound or older than maxAge.
func (h *history) evict(now time.Time) {
	for len(h.entries) > 0 {
		e := h.entries[0]
		if len(h.entries) <= h.maxLen && (h.maxAge <= 0 || now.Sub(e.at) <= h.maxAge) {
			return
		}
		if e.kind == entryMessage && len(e.st.retained) > 0 && e.st.retained[0] == e {
			e.st.retained[0] = nil
			e.st.retained = e.st.retained[1:]
		}
		h.entries[0] = nil
		h.entries = h.entries[1:]
		h.first++
	}
}
