package pubsub

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// EventKind is what a subscription Event carries.
type EventKind uint8

// The event kinds.
const (
	// EventMessage is a published message.
	EventMessage EventKind = iota + 1
	// EventGap reports messages From..To of one origin epoch that are lost
	// for good: no node retains them any more.
	EventGap
	// EventReset says the subscriber's position could not be restored on
	// resume: what it missed is unknown, and events continue from now.
	EventReset
)

// String is the kind's name as the SSE "event:" field spells it.
func (k EventKind) String() string {
	switch k {
	case EventMessage:
		return "message"
	case EventGap:
		return "gap"
	case EventReset:
		return "reset"
	}
	return "unknown"
}

// Event is one subscription event.
type Event struct {
	Kind EventKind
	// ID is the event id: pass it to Subscribe (as Last-Event-ID) on any
	// node to resume after this event.
	ID string
	// Origin and Epoch name the stream of a message or gap.
	Origin string
	Epoch  uint64
	// Seq, Published, ContentType and Payload describe a message. Payload
	// is shared with the history and must not be modified.
	Seq         uint64
	Published   time.Time
	ContentType string
	Payload     []byte
	// From and To (inclusive) are a gap's lost sequence numbers.
	From, To uint64
	// Reason explains a reset.
	Reason string
}

// item is an event not yet emitted: emit turns it into an Event once the
// subscriber's position says it is not a duplicate.
type item struct {
	kind     EventKind
	origin   string
	epoch    uint64
	env      *cassnetv1.Envelope // EventMessage
	from, to uint64              // EventGap
	reason   string              // EventReset
	reset    position            // EventReset: the position after it
	replay   bool                // not live: no latency sample
}

// Subscription is one subscriber's view of a topic: the core that SSE and
// gRPC adapt. Its buffer is the topic's shared history: the subscription
// is a cursor into it plus a position (per stream, the last sequence
// number given), so a slow subscriber costs no memory of its own and
// never blocks anyone. If it falls more than Config.SubscriberLag events
// behind, or its cursor leaves the history, Next returns ErrLagged.
//
// Next must be called from one goroutine at a time; Close may be called
// from any goroutine, at any time, more than once.
type Subscription struct {
	s   *Service
	t   *topic
	lag uint64

	cursor  uint64
	pos     position
	pending []item
	err     error // sticky: the subscription ended (lagged)

	done      chan struct{}
	closeOnce sync.Once
}

// Next returns the next event, blocking until there is one, ctx ends or
// the subscription ends. Errors: ctx's error, ErrClosed (closed, or the
// node is stopping), or an error wrapping ErrLagged with the reason.
func (sub *Subscription) Next(ctx context.Context) (Event, error) {
	ev, _, err := sub.next(ctx, true, 1)
	return ev, err
}

// NextBatch appends to dst the events that are ready, at most max (at
// least 1), and returns it. It blocks like Next until there is at least
// one event; past the first it takes only what needs no waiting, so a
// subscriber that keeps up gets what arrived meanwhile in one call (one
// topic lock per history read, one wake-up per batch). Errors are Next's;
// when one ends a batch early the events already appended are returned
// with a nil error, and the next call meets the error again (a lagged or
// closed subscription stays so; an interrupted fill is retried).
func (sub *Subscription) NextBatch(ctx context.Context, dst []Event, max int) ([]Event, error) {
	max = cmp.Or(max, 1)
	for n := 0; n < max; n++ {
		ev, ok, err := sub.next(ctx, n == 0, max-n)
		if err != nil {
			if n == 0 {
				return dst, err
			}
			return dst, nil
		}
		if !ok {
			break
		}
		dst = append(dst, ev)
	}
	return dst, nil
}

// readAhead bounds how many history entries one read takes under one
// topic lock.
const readAhead = 256

// next returns the next event, reading up to want entries ahead (what the
// caller will consume now: entries read ahead no longer count towards the
// lag bound). Without block, it returns ok false instead of waiting.
func (sub *Subscription) next(ctx context.Context, block bool, want int) (Event, bool, error) {
	for {
		if len(sub.pending) == 0 {
			wake, err := sub.read(min(want, readAhead))
			if err != nil {
				return Event{}, false, err
			}
			if wake != nil {
				if !block {
					return Event{}, false, nil
				}
				select {
				case <-ctx.Done():
					return Event{}, false, ctx.Err()
				case <-sub.done:
					return Event{}, false, ErrClosed
				case <-wake:
				}
				continue
			}
		}
		it := sub.pending[0]
		sub.pending[0] = item{}
		sub.pending = sub.pending[1:]
		if it.kind == EventMessage && !it.replay {
			if p, ok := sub.pos.streams[it.epoch]; ok && it.env.GetSeq() > p.seq+1 {
				// This node started the stream later than the subscriber's
				// position (a resume on another node): fill the hole first.
				fill := sub.fill(ctx, it.origin, it.epoch, p.seq+1, it.env.GetSeq()-1)
				if err := ctx.Err(); err != nil {
					// Interrupted (a heartbeat deadline, say): what could
					// not be fetched is not lost. Retry on the next call.
					sub.pending = append([]item{it}, sub.pending...)
					return Event{}, false, err
				}
				sub.pending = append(append(fill, it), sub.pending...)
				continue
			}
		}
		if ev, ok := sub.emit(it); ok {
			return ev, true, nil
		}
	}
}

// Ready reports whether Next would return at once: an event is ready, or
// the subscription has ended. Like Next, it must not be called
// concurrently with Next.
func (sub *Subscription) Ready() bool {
	for {
		for len(sub.pending) > 0 {
			if !sub.dup(sub.pending[0]) {
				return true
			}
			sub.pending[0] = item{}
			sub.pending = sub.pending[1:]
		}
		wake, err := sub.read(1)
		if err != nil {
			sub.err = err
			return true
		}
		if wake != nil {
			return false
		}
	}
}

// dup reports whether emit would drop it.
func (sub *Subscription) dup(it item) bool {
	p, known := sub.pos.streams[it.epoch]
	switch it.kind {
	case EventMessage:
		return known && it.env.GetSeq() <= p.seq
	case EventGap:
		return known && it.to <= p.seq
	}
	return false
}

// read appends up to n entries from the cursor to pending, under one
// topic lock, or returns a channel to wait on when there is none.
func (sub *Subscription) read(n int) (chan struct{}, error) {
	if sub.err != nil {
		return nil, sub.err
	}
	select {
	case <-sub.done:
		return nil, ErrClosed
	default:
	}
	t := sub.t
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return nil, ErrClosed
	case sub.cursor < t.hist.first:
		sub.err = sub.lagged("its position was evicted from the history")
		return nil, sub.err
	case t.hist.next-sub.cursor > sub.lag:
		sub.err = sub.lagged(fmt.Sprintf("it is %d events behind (limit %d)", t.hist.next-sub.cursor, sub.lag))
		return nil, sub.err
	case sub.cursor == t.hist.next:
		return t.wake, nil
	}
	for ; n > 0 && sub.cursor < t.hist.next; n-- {
		e := t.hist.get(sub.cursor)
		sub.cursor++
		it := item{origin: e.st.origin, epoch: e.st.epoch}
		if e.kind == entryMessage {
			it.kind, it.env = EventMessage, e.env
		} else {
			it.kind, it.from, it.to = EventGap, e.from, e.to
		}
		sub.pending = append(sub.pending, it)
	}
	return nil, nil
}

func (sub *Subscription) lagged(reason string) error {
	sub.s.met.drop(dropSlowSub, 1)
	return fmt.Errorf("%w: %s; resume with the last event id", ErrLagged, reason)
}

// emit advances the position and renders it, or drops a duplicate.
func (sub *Subscription) emit(it item) (Event, bool) {
	p, known := sub.pos.streams[it.epoch]
	switch it.kind {
	case EventMessage:
		env := it.env
		if known && env.GetSeq() <= p.seq {
			return Event{}, false
		}
		sub.pos.advance(it.epoch, env.GetSeq(), env.GetPublishUnixNano())
		sub.s.met.delivered.Inc()
		pub := time.Unix(0, env.GetPublishUnixNano())
		if !it.replay {
			sub.s.met.latency.Observe(sub.s.cfg.now().Sub(pub).Seconds())
		}
		return Event{Kind: EventMessage, ID: sub.pos.encode(), Origin: it.origin, Epoch: it.epoch,
			Seq: env.GetSeq(), Published: pub, ContentType: env.GetContentType(), Payload: env.GetPayload()}, true
	case EventGap:
		if known && it.to <= p.seq {
			return Event{}, false
		}
		from := it.from
		if known && from <= p.seq {
			from = p.seq + 1
		}
		sub.pos.advance(it.epoch, it.to, 0)
		return Event{Kind: EventGap, ID: sub.pos.encode(), Origin: it.origin, Epoch: it.epoch, From: from, To: it.to}, true
	case EventReset:
		sub.pos = it.reset.clone()
		return Event{Kind: EventReset, ID: sub.pos.encode(), Reason: it.reason}, true
	}
	return Event{}, false
}

// fill returns items for sequence numbers from..to of a stream: from the
// local history, else by backfill, else as gaps.
func (sub *Subscription) fill(ctx context.Context, origin string, epoch, from, to uint64) []item {
	msgs, _ := sub.s.collect(ctx, sub.t, origin, epoch, from, to, 0)
	var out []item
	next := from
	for _, env := range msgs {
		if env.GetSeq() > next {
			out = append(out, item{kind: EventGap, origin: origin, epoch: epoch, from: next, to: env.GetSeq() - 1})
		}
		out = append(out, item{kind: EventMessage, origin: origin, epoch: epoch, env: env, replay: true})
		next = env.GetSeq() + 1
	}
	if next <= to {
		out = append(out, item{kind: EventGap, origin: origin, epoch: epoch, from: next, to: to})
	}
	return out
}

// Close ends the subscription. A Next blocked in another goroutine
// returns ErrClosed.
func (sub *Subscription) Close() {
	sub.closeOnce.Do(func() {
		close(sub.done)
		t := sub.t
		t.mu.Lock()
		t.subs--
		t.lastUse = sub.s.cfg.now()
		t.mu.Unlock()
	})
}
