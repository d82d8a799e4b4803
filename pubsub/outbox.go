package pubsub

import (
	"context"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// The outbox: coalescing one topic's own messages into batch envelopes.
//
// GossipSub's cost is per message (a validation, an RPC per peer, a seen
// cache entry, a mesh forward), not per byte: the bare library delivers
// about 46,000 1 KiB messages a second here and drops some silently past
// that (FIELD-NOTES). So Publish does not hand each message to GossipSub.
// It sequences the message, appends it to the history (local subscribers
// have it at once) and queues it in the topic's outbox; the topic's
// flusher sends what is queued as one ENVELOPE_KIND_BATCH gossip message
// of up to BatchMax messages or BatchBytes bytes.
//
// The flusher sends as soon as it is free: when the rate is low, each
// message goes alone with no added latency; when GossipSub is busy, what
// queued meanwhile goes in the next batch, so batches grow with the load
// (natural batching). BatchLinger, if set, also waits that long for a
// batch to fill before sending it.
//
// Gap detection is untouched: every message in a batch is a complete
// envelope with its own {origin, epoch, seq}, receivers offer them one by
// one to the stream's orderer, and a lost batch is a lost range that
// backfill repairs from the origin's history like any other.

// waitHanded waits until the flusher has handed seq to GossipSub, the
// topic closes or ctx ends. Publish acknowledges only then: a message
// acknowledged but still in the outbox when its origin crashed would be
// lost without a trace (no peer would know its sequence number existed).
// The flusher records the head in the head ledger before the hand-over
// (heads.go), which closes the same hole for the moment between the
// hand-over and GossipSub's write to the network.
func (t *topic) waitHanded(ctx context.Context, seq uint64) {
	for {
		t.mu.Lock()
		if t.handed >= seq || t.closed {
			t.mu.Unlock()
			return
		}
		ch := t.handedWake
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// outboxEstimate is the bytes a message adds to a batch besides its
// payload, content type and origin (tags, lengths, numbers); an
// overestimate, so that batches stay under BatchBytes.
const outboxEstimate = 64

// queueLocked puts envs (consecutive messages of the topic's own stream)
// in the outbox and wakes the flusher. t.mu is held.
func (t *topic) queueLocked(envs []*cassnetv1.Envelope) {
	was := len(t.out)
	for _, env := range envs {
		t.out = append(t.out, env)
		t.outBytes += len(env.GetPayload()) + len(env.GetContentType()) + len(env.GetOrigin()) + outboxEstimate
	}
	if was == 0 || t.outFullLocked() {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

func (t *topic) outFullLocked() bool {
	return len(t.out) >= t.s.cfg.BatchMax || t.outBytes >= t.s.cfg.BatchBytes
}

// takeLocked removes and returns the next batch from the outbox: up to
// BatchMax messages or BatchBytes bytes, at least one message.
func (t *topic) takeLocked() []*cassnetv1.Envelope {
	n, bytes := 0, 0
	for n < len(t.out) && n < t.s.cfg.BatchMax && (n == 0 || bytes < t.s.cfg.BatchBytes) {
		env := t.out[n]
		bytes += len(env.GetPayload()) + len(env.GetContentType()) + len(env.GetOrigin()) + outboxEstimate
		n++
	}
	batch := make([]*cassnetv1.Envelope, n)
	copy(batch, t.out[:n])
	clear(t.out[:n])
	t.out = t.out[n:]
	t.outBytes -= bytes
	if len(t.out) == 0 {
		t.out, t.outBytes = t.out[:0:0], 0
	}
	return batch
}

// flushLoop sends the outbox until ctx ends. Started and stopped with
// the topic; it is the only sender of message envelopes, so batches
// leave in sequence order.
func (t *topic) flushLoop(ctx context.Context) {
	linger := t.s.cfg.BatchLinger
	var timer *time.Timer
	if linger > 0 {
		timer = time.NewTimer(linger)
		timer.Stop()
		defer timer.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
		}
		if linger > 0 {
			t.linger(ctx, timer, linger)
		}
		for {
			t.mu.Lock()
			if len(t.out) == 0 {
				t.mu.Unlock()
				break
			}
			batch := t.takeLocked()
			t.mu.Unlock()
			t.recordHead(batch[len(batch)-1])
			t.send(ctx, batch)
			t.mu.Lock()
			t.handed = batch[len(batch)-1].GetSeq()
			close(t.handedWake)
			t.handedWake = make(chan struct{})
			t.mu.Unlock()
		}
	}
}

// linger waits up to d for the outbox to fill.
func (t *topic) linger(ctx context.Context, timer *time.Timer, d time.Duration) {
	timer.Reset(d)
	defer timer.Stop()
	for {
		t.mu.Lock()
		full := t.outFullLocked()
		t.mu.Unlock()
		if full {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-t.kick:
		}
	}
}

// send hands one batch to GossipSub: a lone message as a plain envelope,
// more as one batch envelope. A failure is logged; peers repair the range
// from this node's history.
func (t *topic) send(ctx context.Context, batch []*cassnetv1.Envelope) {
	env := batch[0]
	if len(batch) > 1 {
		env = &cassnetv1.Envelope{
			Kind: cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH, Origin: batch[0].GetOrigin(),
			Epoch: batch[0].GetEpoch(), Seq: batch[0].GetSeq(), Batch: batch,
		}
	}
	data, err := encodeEnvelope(env)
	if err == nil {
		t.s.met.gossipBatches.Inc()
		t.s.met.gossipBatched.Add(float64(len(batch)))
		// data is a fresh buffer that nothing else holds: GossipSub keeps it.
		err = t.lt.Publish(ctx, data)
	}
	if err != nil && ctx.Err() == nil {
		t.s.log.Warn("gossip publish failed; peers will backfill", "topic", t.name,
			"from", batch[0].GetSeq(), "to", batch[len(batch)-1].GetSeq(), "err", err)
	}
}
