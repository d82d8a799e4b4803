package pubsub

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Subscribe opens a subscription to tenant's topic. With an empty
// lastEventID it starts at the newest event. With the ID of an event the
// subscriber received (on this node or any other), it first replays, in
// per-origin order and without duplicates, every event the subscriber
// missed, from this node's history or by backfill from peers; if that is
// impossible it starts with an EventReset instead. Errors wrap ErrInvalid
// (bad names or event id), ErrClosed or ErrTooManyTopics.
func (s *Service) Subscribe(ctx context.Context, tenant, topicName, lastEventID string) (*Subscription, error) {
	name, err := TopicName(tenant, topicName)
	if err != nil {
		return nil, err
	}
	var want position
	resume := lastEventID != ""
	if resume {
		if want, err = decodeEventID(lastEventID); err != nil {
			return nil, err
		}
	}
	t, err := s.openTopic(name)
	if err != nil {
		return nil, err
	}
	now := s.cfg.now()
	t.subs++
	t.lastUse = now
	sub := &Subscription{s: s, t: t, lag: uint64(s.cfg.SubscriberLag), done: make(chan struct{})}
	if !resume {
		sub.cursor = t.hist.next
		sub.pos = t.positionLocked(now)
		t.mu.Unlock()
		return sub, nil
	}
	t.mu.Unlock()
	if err := s.resume(ctx, sub, want); err != nil {
		sub.Close()
		return nil, err
	}
	return sub, nil
}

// positionLocked is where a new subscriber starts: every known stream at
// its newest delivered message.
func (t *topic) positionLocked(now time.Time) position {
	p := newPosition(now.Add(-firstSightMargin).UnixMilli())
	for e, st := range t.streams {
		if d := st.delivered(); d > 0 {
			p.streams[e] = streamPos{seq: d, last: st.lastTime}
		}
	}
	p.trim()
	return p
}

// streamView is what is known of a stream's head, here or on a peer.
type streamView struct {
	origin string
	head   uint64
	last   int64
}

// resume fills sub.pending with what the subscriber missed since want,
// or with a reset.
func (s *Service) resume(ctx context.Context, sub *Subscription, want position) error {
	t := sub.t
	t.mu.Lock()
	sub.cursor = t.hist.next // everything after is read live
	known := make(map[uint64]streamView, len(t.streams))
	for e, st := range t.streams {
		known[e] = streamView{origin: st.origin, head: st.delivered(), last: st.lastTime}
	}
	t.mu.Unlock()
	for _, sm := range s.summaries(ctx, t.name) {
		v, ok := known[sm.GetEpoch()]
		if ok && v.origin != sm.GetOrigin() {
			continue
		}
		if !ok || sm.GetLastSeq() > v.head {
			known[sm.GetEpoch()] = streamView{origin: sm.GetOrigin(), head: sm.GetLastSeq(), last: max(v.last, sm.GetLastUnixNano())}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	since := want.since * int64(time.Millisecond)
	var replay []item
	var lost []string
	for e, v := range known {
		p, in := want.streams[e]
		from, filter := p.seq+1, int64(0)
		if !in {
			from, filter = 1, since
			if v.last < since {
				continue // nothing in it was published after since
			}
		}
		if from > v.head {
			continue
		}
		msgs, ok := s.collect(ctx, t, v.origin, e, from, v.head, filter)
		if !ok {
			lost = append(lost, fmt.Sprintf("%s:%016x", v.origin, e))
			continue
		}
		for _, env := range msgs {
			replay = append(replay, item{kind: EventMessage, origin: v.origin, epoch: e, env: env, replay: true})
		}
	}
	for e := range want.streams {
		if _, ok := known[e]; !ok {
			lost = append(lost, fmt.Sprintf("%016x (unknown)", e))
		}
	}
	if len(replay) > 2*s.cfg.HistorySize {
		lost = append(lost, fmt.Sprintf("%d events to replay", len(replay)))
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		reset := newPosition(s.cfg.now().Add(-firstSightMargin).UnixMilli())
		for e, v := range known {
			if v.head > 0 {
				reset.streams[e] = streamPos{seq: v.head, last: v.last}
			}
		}
		// The subscriber already has everything up to want in each
		// stream: a reset must not move it back, or this node (behind the
		// one it came from) would deliver those messages again.
		for e, p := range want.streams {
			if r, ok := reset.streams[e]; !ok || p.seq > r.seq {
				reset.streams[e] = p
			}
		}
		reset.trim()
		sub.pos = want
		sub.pending = []item{{kind: EventReset, reset: reset,
			reason: "missed events are no longer retained: " + strings.Join(lost, ", ")}}
		s.met.resets.Inc()
		return nil
	}
	// Per stream the order is sequence order; across streams, publish time.
	slices.SortStableFunc(replay, func(a, b item) int {
		if a.epoch == b.epoch {
			return cmp.Compare(a.env.GetSeq(), b.env.GetSeq())
		}
		return cmp.Compare(a.env.GetPublishUnixNano(), b.env.GetPublishUnixNano())
	})
	sub.pos, sub.pending = want, replay
	return nil
}

// collect gets messages from..to of a stream, published at or after
// since (0: all), from the local history and then by backfill. ok reports
// whether nothing wanted is missing.
func (s *Service) collect(ctx context.Context, t *topic, origin string, epoch, from, to uint64, since int64) ([]*cassnetv1.Envelope, bool) {
	have := make(map[uint64]*cassnetv1.Envelope)
	t.mu.Lock()
	if st := t.streams[epoch]; st != nil && st.origin == origin {
		for _, env := range st.lookup(from, to) {
			if env.GetPublishUnixNano() >= since {
				have[env.GetSeq()] = env
			}
		}
	}
	t.mu.Unlock()
	lo := from
	for lo <= to && have[lo] != nil {
		lo++
	}
	if lo <= to {
		got, _ := s.fetch(ctx, t.name, origin, epoch, lo, to, since)
		for _, env := range got {
			if have[env.GetSeq()] == nil {
				have[env.GetSeq()] = env
			}
		}
	}
	msgs := make([]*cassnetv1.Envelope, 0, len(have))
	for _, env := range have {
		msgs = append(msgs, env)
	}
	slices.SortFunc(msgs, func(a, b *cassnetv1.Envelope) int { return cmp.Compare(a.GetSeq(), b.GetSeq()) })
	if len(msgs) == 0 {
		return nil, false
	}
	first := msgs[0]
	if since == 0 && first.GetSeq() != from {
		return msgs, false
	}
	if since != 0 && first.GetSeq() != 1 && first.GetPrevUnixNano() >= since {
		return msgs, false // the message before the first one was wanted too
	}
	return msgs, uint64(len(msgs)) == to-first.GetSeq()+1 && msgs[len(msgs)-1].GetSeq() == to
}
