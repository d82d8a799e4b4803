package pubsub

import (
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// maxHeld bounds the out-of-order messages one stream may hold. Past it,
// new out-of-order arrivals are dropped (and counted); they are fetched
// again by gap repair, so nothing is lost silently.
const maxHeld = 4096

// orderer puts one stream's messages (one origin epoch on one topic) in
// sequence order. It is pure bookkeeping: no locks, no goroutines, no
// clock of its own. The topic's mutex guards it.
type orderer struct {
	// next is the next sequence number to deliver; 0 until started.
	next uint64
	// head is the highest sequence number known to exist, from messages
	// or head announcements.
	head uint64
	held map[uint64]*cassnetv1.Envelope
	// lowest is the lowest held sequence number, valid unless lowDirty
	// (held empty: 0). Kept so that the gap check on every offer is O(1):
	// scanning held each time made a burst of reordered batches
	// quadratic (and a Go map that once held thousands of entries is
	// slow to iterate even when nearly empty).
	lowest   uint64
	lowDirty bool
	// gapSince is when the current gap was first noticed; zero if none.
	gapSince time.Time
}

// offerResult says what offer did with a message.
type offerResult int

const (
	offerReady    offerResult = iota // delivered (with any held successors)
	offerHeld                        // held until the gap before it closes
	offerDup                         // already delivered or held: dropped
	offerOverflow                    // hold is full: dropped, repair will fetch it
)

// start begins the stream at seq (the first message seen, or 1).
func (o *orderer) start(seq uint64) {
	o.next = seq
	if o.held == nil {
		o.held = make(map[uint64]*cassnetv1.Envelope)
	}
}

func (o *orderer) started() bool { return o.next != 0 }

// offer takes one message and returns those now deliverable, in order.
func (o *orderer) offer(env *cassnetv1.Envelope, now time.Time) ([]*cassnetv1.Envelope, offerResult) {
	seq := env.GetSeq()
	if seq < o.next || o.held[seq] != nil {
		return nil, offerDup
	}
	o.head = max(o.head, seq)
	if seq != o.next {
		if len(o.held) >= maxHeld {
			o.track(now)
			return nil, offerOverflow
		}
		o.held[seq] = env
		if !o.lowDirty && (o.lowest == 0 || seq < o.lowest) {
			o.lowest = seq
		}
		o.track(now)
		return nil, offerHeld
	}
	ready := []*cassnetv1.Envelope{env}
	o.next++
	ready = o.drain(ready)
	o.track(now)
	return ready, offerReady
}

// noteHead records that the origin has published up to seq.
func (o *orderer) noteHead(seq uint64, now time.Time) {
	o.head = max(o.head, seq)
	o.track(now)
}

// missing returns the first range of sequence numbers that is known to
// exist but has not been delivered.
func (o *orderer) missing() (from, to uint64, ok bool) {
	if o.next == 0 {
		return 0, 0, false
	}
	if len(o.held) > 0 {
		return o.next, o.lowestHeld() - 1, true
	}
	if o.head >= o.next {
		return o.next, o.head, true
	}
	return 0, 0, false
}

// lowestHeld returns the lowest held sequence number (held is not empty),
// rescanning only after removals changed it.
func (o *orderer) lowestHeld() uint64 {
	if o.lowDirty {
		o.lowest = 0
		for s := range o.held {
			if o.lowest == 0 || s < o.lowest {
				o.lowest = s
			}
		}
		o.lowDirty = false
	}
	return o.lowest
}

// removed notes that held entries were deleted; a map emptied after a
// burst is replaced, so that it does not stay large.
func (o *orderer) removed() {
	if len(o.held) == 0 {
		if o.lowest != 0 || o.lowDirty {
			o.held = make(map[uint64]*cassnetv1.Envelope)
		}
		o.lowest, o.lowDirty = 0, false
		return
	}
	o.lowDirty = true
}

// due reports whether a gap has been open for at least hold.
func (o *orderer) due(now time.Time, hold time.Duration) bool {
	return !o.gapSince.IsZero() && now.Sub(o.gapSince) >= hold
}

// skipTo declares everything up to seq lost (the caller reports it as a
// gap) and returns the held messages that became deliverable.
func (o *orderer) skipTo(seq uint64, now time.Time) []*cassnetv1.Envelope {
	if seq < o.next {
		return nil
	}
	if len(o.held) > 0 {
		for s := range o.held {
			if s <= seq {
				delete(o.held, s)
			}
		}
		o.removed()
	}
	o.next = seq + 1
	o.head = max(o.head, seq)
	ready := o.drain(nil)
	o.track(now)
	return ready
}

// restartGapClock makes a still-open gap wait another hold period, after
// a repair attempt that could not decide.
func (o *orderer) restartGapClock(now time.Time) {
	if !o.gapSince.IsZero() {
		o.gapSince = now
	}
}

func (o *orderer) drain(ready []*cassnetv1.Envelope) []*cassnetv1.Envelope {
	if len(o.held) == 0 {
		return ready
	}
	n := 0
	for {
		env := o.held[o.next]
		if env == nil {
			break
		}
		delete(o.held, o.next)
		ready = append(ready, env)
		o.next++
		n++
	}
	if n > 0 {
		o.removed()
	}
	return ready
}

// track opens or closes the gap clock.
func (o *orderer) track(now time.Time) {
	_, _, gap := o.missing()
	switch {
	case !gap:
		o.gapSince = time.Time{}
	case o.gapSince.IsZero():
		o.gapSince = now
	}
}
