package streamclient

import (
	"context"
	"slices"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// The outgoing side of a Conn. A command is encoded when it is queued,
// straight into the segment being filled: a segment is the wire form of
// one StreamRequest (its commands field repeated), at most segCommands
// commands (the node's limit) or about segBytes bytes. The writer takes
// every full or filling segment at once and sends each as one WebSocket
// message, so a burst of publishes costs one frame, as before, but no
// allocation, channel operation or second encoding per command.
//
// Publishes also join the pending list here, under the same lock, so
// refs, wire order and the list's order are one order: the list is a
// queue indexed by ref (acknowledgements come back in publish order, as
// runs), not a map.
//
// Everything in outQueue is guarded by Conn.mu.

const (
	// segCommands bounds the commands of one request (the node refuses
	// more than 4,096).
	segCommands = 4096
	// segBytes ends a segment once it holds this much: small enough to
	// pipeline, large enough that a frame carries a burst.
	segBytes = 128 << 10
	// requestCommandsField is StreamRequest.commands.
	requestCommandsField = 1
)

type outQueue struct {
	// segs are the segments not yet taken by the writer, oldest first;
	// counts[i] is the number of commands in segs[i].
	segs   [][]byte
	counts []int
	// queued is the commands in segs; Config.QueueSize bounds it.
	queued int
	// spare are emptied segment buffers, for reuse.
	spare [][]byte
	// room is closed (and replaced) when the writer takes segments while
	// someone waits for room (waiting).
	room    chan struct{}
	waiting bool
	// kick wakes the writer (capacity 1).
	kick chan struct{}
	// pub and wrap are reused to encode publishes without allocating.
	pub  cassnetv1.StreamPublish
	wrap cassnetv1.StreamCommand_Publish
	cmd  cassnetv1.StreamCommand

	// pending[i] waits for ref base+i; a finished one is nil until the
	// queue's head moves past it. nextRef is the last ref given.
	pending []*Pending
	base    uint64
	nextRef uint64
}

func newOutQueue() outQueue {
	return outQueue{room: make(chan struct{}), kick: make(chan struct{}, 1), base: 1}
}

// appendCmd encodes cmd at the end of the segment being filled, starting
// a new one when that is full.
func (q *outQueue) appendCmd(cmd *cassnetv1.StreamCommand) {
	n := len(q.segs)
	if n == 0 || q.counts[n-1] >= segCommands || len(q.segs[n-1]) >= segBytes {
		var buf []byte
		if k := len(q.spare); k > 0 {
			buf, q.spare = q.spare[k-1][:0], q.spare[:k-1]
		} else {
			// Full size at once: growing by doubling would allocate
			// (and clear) twice as much per segment.
			buf = make([]byte, 0, segBytes+segBytes/8)
		}
		q.segs, q.counts = append(q.segs, buf), append(q.counts, 0)
		n++
	}
	size := cmd.SizeVT()
	seg := protowire.AppendTag(q.segs[n-1], requestCommandsField, protowire.BytesType)
	seg = protowire.AppendVarint(seg, uint64(size))
	at := len(seg)
	seg = slices.Grow(seg, size)[:at+size]
	// The generated encoder cannot fail on a message it sized itself.
	_, _ = cmd.MarshalToSizedBufferVT(seg[at:])
	q.segs[n-1] = seg
	q.counts[n-1]++
	q.queued++
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// appendPublish encodes a publish of ref with the reused scratch command.
func (q *outQueue) appendPublish(ref uint64, topic, contentType string, payload []byte) {
	q.pub = cassnetv1.StreamPublish{Ref: ref, Topic: topic, ContentType: contentType, Payload: payload}
	q.wrap.Publish = &q.pub
	q.cmd.Command = &q.wrap
	q.appendCmd(&q.cmd)
	q.pub.Payload, q.pub.Topic, q.pub.ContentType = nil, "", "" // do not pin the caller's memory
}

// take removes every queued segment and wakes those waiting for room.
func (q *outQueue) take(dst [][]byte) [][]byte {
	dst = append(dst, q.segs...)
	clear(q.segs)
	q.segs, q.counts, q.queued = q.segs[:0], q.counts[:0], 0
	if q.waiting {
		close(q.room)
		q.room, q.waiting = make(chan struct{}), false
	}
	return dst
}

// maxSpare bounds the segment buffers kept for reuse: what is queued
// while the writer sends, so that a steady stream allocates none.
const maxSpare = 8

// recycle keeps a sent segment's buffer for reuse (maxSpare at most; a
// buffer that grew large after a big publish is let go).
func (q *outQueue) recycle(buf []byte) {
	if len(q.spare) < maxSpare && cap(buf) <= 2*segBytes {
		q.spare = append(q.spare, buf[:0])
	}
}

// addPending gives p the next ref.
func (q *outQueue) addPending(p *Pending) uint64 {
	q.nextRef++
	q.pending = append(q.pending, p)
	return q.nextRef
}

// takePending removes and returns the publish waiting for ref (nil if
// none does).
func (q *outQueue) takePending(ref uint64) *Pending {
	if ref < q.base || ref-q.base >= uint64(len(q.pending)) {
		return nil
	}
	i := ref - q.base
	p := q.pending[i]
	q.pending[i] = nil
	for len(q.pending) > 0 && q.pending[0] == nil {
		q.pending = q.pending[1:]
		q.base++
	}
	if len(q.pending) == 0 {
		q.pending = q.pending[:0:0] // let the drained backing array go
	}
	return p
}

// allPending removes and returns every waiting publish.
func (q *outQueue) allPending() []*Pending {
	out := make([]*Pending, 0, len(q.pending))
	for _, p := range q.pending {
		if p != nil {
			out = append(out, p)
		}
	}
	q.base += uint64(len(q.pending))
	q.pending = nil
	return out
}

// enqueueLocked waits, with c.mu held (it unlocks while it waits), until
// the queue has room for one more command, the connection fails or ctx
// ends. It returns with c.mu held.
func (c *Conn) enqueueLocked(ctx context.Context) error {
	for c.err == nil && c.q.queued >= c.cfg.QueueSize {
		c.q.waiting = true
		room := c.q.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.done:
		case <-ctx.Done():
			c.mu.Lock()
			return ctx.Err()
		}
		c.mu.Lock()
	}
	return c.err
}

// enqueue queues a command for the writer.
func (c *Conn) enqueue(ctx context.Context, cmd *cassnetv1.StreamCommand) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enqueueLocked(ctx); err != nil {
		return err
	}
	c.q.appendCmd(cmd)
	return nil
}
