package streamclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// queueConn is a Conn with no socket and no writer: what the queue's
// callers see.
func queueConn(size int) *Conn {
	return &Conn{cfg: Config{QueueSize: size}, done: make(chan struct{}), subs: map[uint64]*Subscription{}, q: newOutQueue()}
}

// decodeSegments decodes what the writer would send, one request each.
func decodeSegments(t *testing.T, segs [][]byte) []*cassnetv1.StreamRequest {
	t.Helper()
	var out []*cassnetv1.StreamRequest
	for i, seg := range segs {
		var req cassnetv1.StreamRequest
		if err := proto.Unmarshal(seg, &req); err != nil {
			t.Fatalf("segment %d does not decode: %v", i, err)
		}
		out = append(out, &req)
	}
	return out
}

// TestQueueSegments: queued commands come out as requests the node
// accepts (at most 4,096 commands, about 128 KiB), holding exactly the
// commands queued, in order, with refs 1, 2, 3...
func TestQueueSegments(t *testing.T) {
	c := queueConn(1 << 20)
	var want []*cassnetv1.StreamCommand
	var ref uint64
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%700) }
	for i := range 9000 {
		if i%1000 == 999 {
			cmd := &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Ack{Ack: &cassnetv1.StreamAck{Sub: 3, Count: uint32(i)}}}
			if err := c.enqueue(t.Context(), cmd); err != nil {
				t.Fatal(err)
			}
			want = append(want, cmd)
			continue
		}
		p := payload(i)
		pd := c.PublishAsync(t.Context(), "bench", "text/plain", p)
		select {
		case <-pd.Done():
			t.Fatalf("publish %d finished early: %v", i, pd.err)
		default:
		}
		for j := range p {
			p[j] = 0xff // the queue copied it: the caller may reuse it
		}
		ref++
		want = append(want, &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{
			Ref: ref, Topic: "bench", ContentType: "text/plain", Payload: payload(i)}}})
	}
	c.mu.Lock()
	queued := c.q.queued
	segs := c.q.take(nil)
	c.mu.Unlock()
	if queued != len(want) {
		t.Fatalf("queued %d commands, want %d", queued, len(want))
	}
	var got []*cassnetv1.StreamCommand
	for i, req := range decodeSegments(t, segs) {
		if n := len(req.GetCommands()); n > segCommands {
			t.Fatalf("segment %d has %d commands", i, n)
		}
		if len(segs[i]) > segBytes+1024 {
			t.Fatalf("segment %d is %d bytes", i, len(segs[i]))
		}
		got = append(got, req.GetCommands()...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d commands came out, %d went in", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("command %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if len(segs) < 2 {
		t.Fatalf("%d segments: the bounds never cut one", len(segs))
	}
}

// TestQueueCountBound: a run of tiny commands is cut at 4,096 per request.
func TestQueueCountBound(t *testing.T) {
	c := queueConn(1 << 20)
	for range 2*segCommands + 1 {
		c.PublishAsync(t.Context(), "t", "", nil)
	}
	c.mu.Lock()
	segs := c.q.take(nil)
	c.mu.Unlock()
	var sizes []int
	for _, req := range decodeSegments(t, segs) {
		sizes = append(sizes, len(req.GetCommands()))
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{segCommands, segCommands, 1}) {
		t.Fatalf("commands per request: %v", sizes)
	}
}

// TestTakePending: refs are taken in any order, each once; the queue's
// head moves past what is taken.
func TestTakePending(t *testing.T) {
	var q outQueue = newOutQueue()
	pds := make([]*Pending, 6)
	for i := range pds {
		pds[i] = &Pending{done: make(chan struct{})}
		if ref := q.addPending(pds[i]); ref != uint64(i+1) {
			t.Fatalf("ref %d, want %d", ref, i+1)
		}
	}
	for _, ref := range []uint64{3, 1, 2, 6} {
		if p := q.takePending(ref); p != pds[ref-1] {
			t.Fatalf("take %d: got %p, want %p", ref, p, pds[ref-1])
		}
	}
	for _, ref := range []uint64{0, 1, 2, 3, 6, 7, 1 << 62} {
		if p := q.takePending(ref); p != nil {
			t.Fatalf("take %d again or unknown: got %p", ref, p)
		}
	}
	if q.base != 4 {
		t.Fatalf("head at ref %d, want 4", q.base)
	}
	left := q.allPending()
	if len(left) != 2 || left[0] != pds[3] || left[1] != pds[4] {
		t.Fatalf("left: %v", left)
	}
	if ref := q.addPending(pds[0]); ref != 7 || q.takePending(7) != pds[0] {
		t.Fatalf("a ref after allPending: %d", ref)
	}
}

// TestPublishWaitsForRoom: with the queue full a publish waits until the
// writer takes what is queued, or until its context ends, in which case
// it fails and takes no ref.
func TestPublishWaitsForRoom(t *testing.T) {
	c := queueConn(2)
	c.PublishAsync(t.Context(), "t", "", []byte("a"))
	c.PublishAsync(t.Context(), "t", "", []byte("b"))

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.PublishAsync(ctx, "t", "", []byte("late")).Wait(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish into a full queue: %v, want the context's error", err)
	}
	if c.q.nextRef != 2 {
		t.Fatalf("the refused publish took a ref: next ref %d", c.q.nextRef)
	}

	third := make(chan *Pending)
	go func() { third <- c.PublishAsync(t.Context(), "t", "", []byte("c")) }()
	select {
	case <-third:
		t.Fatal("the publish did not wait for room")
	case <-time.After(50 * time.Millisecond):
	}
	c.mu.Lock()
	segs := c.q.take(nil)
	c.mu.Unlock()
	pd := <-third
	c.mu.Lock()
	segs = c.q.take(segs)
	c.mu.Unlock()
	var refs []uint64
	for _, req := range decodeSegments(t, segs) {
		for _, cmd := range req.GetCommands() {
			refs = append(refs, cmd.GetPublish().GetRef())
		}
	}
	if fmt.Sprint(refs) != "[1 2 3]" {
		t.Fatalf("refs sent: %v", refs)
	}
	if left := c.q.allPending(); len(left) != 3 || left[2] != pd {
		t.Fatalf("pending: %v, want the three publishes sent, the last one third", left)
	}
}

// TestSubscriptionQueue: events come out of Next in order, the window is
// enforced, and what arrived before the end is returned before the error.
func TestSubscriptionQueue(t *testing.T) {
	c := queueConn(1 << 10)
	s := &Subscription{c: c, id: 1, window: 8, ready: make(chan struct{}), ended: make(chan struct{}), wake: make(chan struct{}, 1)}
	next, want := uint64(1), uint64(1)
	pop := func() {
		t.Helper()
		ev, err := s.Next(t.Context())
		if err != nil || ev.Seq != want {
			t.Fatalf("got %d %v, want %d", ev.Seq, err, want)
		}
		want++
	}
	for round := range 50 {
		k := round%8 + 1
		for len(s.in)-s.head+k > 8 {
			pop()
		}
		for range k {
			if !s.deliver(Event{Kind: "message", Seq: next}) {
				t.Fatalf("round %d: refused within the window", round)
			}
			next++
		}
		if len(s.in)-s.head == 8 && s.deliver(Event{Seq: next}) {
			t.Fatalf("round %d: accepted past the window", round)
		}
		for range round % 3 {
			pop()
		}
	}
	// A Next that waits is woken by the next delivery.
	for s.head != len(s.in) {
		pop()
	}
	got := make(chan Event)
	go func() {
		ev, _ := s.Next(t.Context())
		got <- ev
	}()
	time.Sleep(20 * time.Millisecond)
	s.deliver(Event{Seq: next})
	if ev := <-got; ev.Seq != next {
		t.Fatalf("woken with %d, want %d", ev.Seq, next)
	}
	s.deliver(Event{Seq: next + 1})
	s.end(ErrEnded)
	if ev, err := s.Next(t.Context()); err != nil || ev.Seq != next+1 {
		t.Fatalf("after the end: %d %v, want the event received before it", ev.Seq, err)
	}
	if _, err := s.Next(t.Context()); !errors.Is(err, ErrEnded) {
		t.Fatalf("then: %v, want ErrEnded", err)
	}
}

// TestDispatchAllRuns: events of two subscriptions interleaved with an
// end reach each subscription in order, the end after the events before
// it; a run past the window is a protocol error.
func TestDispatchAllRuns(t *testing.T) {
	c := queueConn(16)
	newSub := func(id uint64, window int) *Subscription {
		s := &Subscription{c: c, id: id, window: window, ready: make(chan struct{}), ended: make(chan struct{}), wake: make(chan struct{}, 1)}
		c.subs[id] = s
		return s
	}
	a, b := newSub(1, 8), newSub(2, 3)
	ev := func(sub, seq uint64) *cassnetv1.StreamReply {
		return &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: sub, Kind: "message", Seq: seq}}}
	}
	runOf := func(sub, first uint64, n int) *cassnetv1.StreamReply {
		r := &cassnetv1.StreamEventRun{Sub: sub, FirstSeq: first, Origin: "o", PublishedUnixNano: make([]int64, n), Payloads: make([][]byte, n)}
		for i := range n {
			r.Ids = append(r.Ids, fmt.Sprint(first+uint64(i)))
		}
		r.PublishedUnixNano[n-1] = 42
		return &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Events{Events: r}}
	}
	end := &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Ended{Ended: &cassnetv1.StreamEnded{Sub: 1, Reason: "bye"}}}
	var run eventRun
	if err := c.dispatchAll([]*cassnetv1.StreamReply{ev(1, 1), ev(1, 2), ev(2, 1), runOf(1, 3, 2), ev(1, 5), end, ev(2, 2)}, &run); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{1, 2, 3, 4, 5} {
		if got, err := a.Next(t.Context()); err != nil || got.Seq != want {
			t.Fatalf("a: %d %v, want %d", got.Seq, err, want)
		} else if run := want == 3 || want == 4; run && (got.ID != fmt.Sprint(want) || got.Origin != "o" || got.Kind != "message" ||
			got.Published.IsZero() != (want == 3)) {
			t.Fatalf("a run's event %d: %+v", want, got)
		}
	}
	if _, err := a.Next(t.Context()); !errors.Is(err, ErrEnded) {
		t.Fatalf("a after its events: %v, want ErrEnded", err)
	}
	for _, want := range []uint64{1, 2} {
		if got, err := b.Next(t.Context()); err != nil || got.Seq != want {
			t.Fatalf("b: %d %v, want %d", got.Seq, err, want)
		}
	}
	err := c.dispatchAll([]*cassnetv1.StreamReply{ev(2, 3), ev(2, 4), ev(2, 5), ev(2, 6)}, &run)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("4 events into a window of 3: %v, want ErrProtocol", err)
	}
	newSub(3, 3)
	if err := c.dispatchAll([]*cassnetv1.StreamReply{runOf(3, 1, 4)}, &run); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a run of 4 into a window of 3: %v, want ErrProtocol", err)
	}
}
