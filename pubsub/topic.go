package pubsub

import (
	"context"
	"sync"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
)

// firstSightMargin widens the "published after this node joined the
// topic" test against clock skew between origins and this node: a stream
// first seen mid-way is repaired back to messages published up to this
// long before the join.
const firstSightMargin = 5 * time.Second

// topic is one GossipSub topic this node carries: its libp2p handle, its
// history and the streams (origin epochs) seen on it.
type topic struct {
	s      *Service
	name   string // cass/<tenant>/<topic>
	lt     *lp2pps.Topic
	sub    *lp2pps.Subscription
	cancel context.CancelFunc
	// since (Unix ns) is the join time minus firstSightMargin.
	since int64

	// mu guards everything below. Lock order: Service.mu, then topic.mu,
	// then Service.gapMu.
	mu      sync.Mutex
	hist    *history
	streams map[uint64]*stream // by epoch
	own     *stream            // what this node publishes; nil until it does
	ended   []*stream          // previous lives' streams still announced (heads.go)
	subs    int                // open local subscriptions
	lastUse time.Time
	closed  bool
	wake    chan struct{} // closed and replaced when the history grows
	// out is the outbox: own messages sequenced but not yet handed to
	// GossipSub (outbox.go); outBytes estimates their size. kick wakes
	// the flusher.
	out      []*cassnetv1.Envelope
	outBytes int
	kick     chan struct{}
	// handed is the highest own sequence number the flusher has handed
	// to GossipSub; handedWake is closed and replaced when it grows.
	handed     uint64
	handedWake chan struct{}
}

// readLoop feeds GossipSub messages into the topic until ctx ends.
func (t *topic) readLoop(ctx context.Context) {
	for {
		msg, err := t.sub.Next(ctx)
		if err != nil {
			return
		}
		if msg.Local || msg.ReceivedFrom == t.s.self {
			continue
		}
		if env, ok := msg.ValidatorData.(*cassnetv1.Envelope); ok {
			if env.GetKind() == cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
				t.ingest(env.GetBatch()...)
			} else {
				t.ingest(env)
			}
			// GossipSub's message cache keeps msg for its gossip window;
			// the history keeps what it needs of the decoded envelopes, so
			// the cache need not pin a second, decoded copy.
			msg.ValidatorData = nil
		}
	}
}

// ingest takes envelopes from the network (or from backfill): one, or the
// messages of a batch, under one lock.
func (t *topic) ingest(envs ...*cassnetv1.Envelope) {
	now := t.s.cfg.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, env := range envs {
		t.ingestLocked(env, now)
	}
}

func (t *topic) ingestLocked(env *cassnetv1.Envelope, now time.Time) {
	st := t.streamLocked(env.GetOrigin(), env.GetEpoch(), now)
	if st == nil || st.own {
		return
	}
	head := env.GetKind() == cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD
	if !st.ord.started() {
		t.firstSightLocked(st, env, head)
	}
	st.touched = now
	if head {
		st.ord.noteHead(env.GetSeq(), now)
	} else {
		ready, res := st.ord.offer(env, now)
		if res == offerOverflow {
			t.s.met.drop(dropHoldFull, 1)
		}
		t.deliverLocked(st, ready, now)
	}
	if !st.ord.gapSince.IsZero() {
		t.s.markGapped(t)
	}
}

// firstSightLocked starts a stream seen for the first time. If the message
// before the first one seen was published after this node joined the
// topic (minus a margin), it was missed: the stream starts at 1 and the
// repair fetches what was published since the join.
func (t *topic) firstSightLocked(st *stream, env *cassnetv1.Envelope, head bool) {
	seq, prev := env.GetSeq(), env.GetPrevUnixNano()
	if head {
		seq, prev = env.GetSeq()+1, env.GetPublishUnixNano()
	}
	if seq == 1 || prev < t.since {
		st.ord.start(seq)
		return
	}
	st.ord.start(1)
	st.floor = t.since
}

// streamLocked returns the stream for (origin, epoch), creating it. It
// returns nil if another origin already claimed the epoch.
func (t *topic) streamLocked(origin string, epoch uint64, now time.Time) *stream {
	st := t.streams[epoch]
	if st == nil {
		st = &stream{origin: origin, epoch: epoch, touched: now}
		t.streams[epoch] = st
	}
	if st.origin != origin {
		return nil
	}
	return st
}

// deliverLocked appends in-order messages to the history.
func (t *topic) deliverLocked(st *stream, envs []*cassnetv1.Envelope, now time.Time) {
	for _, env := range envs {
		t.hist.add(&entry{kind: entryMessage, at: now, st: st, env: env})
		st.lastTime = env.GetPublishUnixNano()
	}
	if len(envs) > 0 {
		t.wakeLocked()
	}
}

// gapLocked appends an unrepairable gap [from, to] of st to the history.
func (t *topic) gapLocked(st *stream, from, to uint64, now time.Time) {
	t.hist.add(&entry{kind: entryGap, at: now, st: st, from: from, to: to})
	t.s.met.gaps.Inc()
	t.s.log.Warn("unrepairable gap", "topic", t.name, "origin", st.origin,
		"epoch", st.epoch, "from", from, "to", to)
	t.wakeLocked()
}

func (t *topic) wakeLocked() {
	close(t.wake)
	t.wake = make(chan struct{})
}
