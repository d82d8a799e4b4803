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
		lowest := uint64(0)
		for s := range o.held {
			if lowest == 0 || s < lowest {
				lowest = s
			}
		}
		return o.next, lowest - 1, true
	}
	if o.head >= o.next {
		return o.next, o.head, true
	}
	return 0, 0, false
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
	for s := range o.held {
		if s <= seq {
			delete(o.held, s)
		}
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
	for {
		env := o.held[o.next]
		if env == nil {
			return ready
		}
		delete(o.held, o.next)
		ready = append(ready, env)
		o.next++
	}
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
