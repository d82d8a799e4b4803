package streamclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// Published identifies an acknowledged message.
type Published struct {
	// ID is "<origin>:<epoch>:<seq>", unique cluster-wide.
	ID     string
	Origin string
	// Epoch is 16 hex digits.
	Epoch string
	Seq   uint64
}

// Pending is a publish waiting for its acknowledgement.
type Pending struct {
	done chan struct{}
	once sync.Once
	res  Published
	err  error
}

func (p *Pending) finish(res Published, err error) {
	p.once.Do(func() {
		p.res, p.err = res, err
		close(p.done)
	})
}

// Done is closed when the outcome is known.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Wait returns the acknowledgement, the node's refusal (*Error), or the
// connection's error (the outcome is then unknown).
func (p *Pending) Wait(ctx context.Context) (Published, error) {
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		return Published{}, ctx.Err()
	}
}

// PublishAsync queues a publish and returns at once (or when the queue
// has room, or ctx ends); Wait on the result for the acknowledgement.
// Publishes of one Conn are sequenced in the order they are queued.
// payload is copied before PublishAsync returns: the caller may reuse it.
func (c *Conn) PublishAsync(ctx context.Context, topic, contentType string, payload []byte) *Pending {
	p := &Pending{done: make(chan struct{})}
	if !utf8.ValidString(topic) || !utf8.ValidString(contentType) {
		// The encoder does not check (proto.Marshal did): the node would
		// refuse the whole WebSocket message and close the connection.
		p.finish(Published{}, errors.New("streamclient: topic and content type must be UTF-8"))
		return p
	}
	c.mu.Lock()
	if err := c.enqueueLocked(ctx); err != nil {
		c.mu.Unlock()
		p.finish(Published{}, err)
		return p
	}
	c.q.appendPublish(c.q.addPending(p), topic, contentType, payload)
	c.mu.Unlock()
	return p
}

// Publish publishes and waits for the acknowledgement: the node has
// sequenced the message and holds it in its history.
func (c *Conn) Publish(ctx context.Context, topic, contentType string, payload []byte) (Published, error) {
	return c.PublishAsync(ctx, topic, contentType, payload).Wait(ctx)
}

// Event is one subscription event: Kind is "message", "gap" or "reset",
// with the meanings of docs/pubsub.md.
type Event struct {
	Kind string
	// ID resumes after this event (LastEventID does the bookkeeping).
	ID          string
	Origin      string
	Epoch       string
	Seq         uint64
	Published   time.Time
	ContentType string
	// Payload is the caller's: the client never reuses or modifies it. It
	// shares one buffer with the other payloads of the WebSocket message
	// it came in (no copy), so keeping one payload of many keeps that
	// buffer alive: copy it to keep it long.
	Payload []byte
	// From and To are a gap's lost sequence numbers (inclusive).
	From, To uint64
	Reason   string
}

func eventOf(e *cassnetv1.StreamEvent) Event {
	ev := Event{Kind: e.GetKind(), ID: e.GetId(), Origin: e.GetOrigin(), Epoch: e.GetEpoch(), Seq: e.GetSeq(),
		ContentType: e.GetContentType(), Payload: e.GetPayload(), From: e.GetFrom(), To: e.GetTo(), Reason: e.GetReason()}
	if n := e.GetPublishedUnixNano(); n != 0 {
		ev.Published = time.Unix(0, n)
	}
	return ev
}

// appendEventRun appends the messages of a checked run (decodeResponse)
// to evs, each the Event its StreamEvent would have been.
func appendEventRun(evs []Event, r *cassnetv1.StreamEventRun) []Event {
	evs = slices.Grow(evs, len(r.GetIds()))
	for i, id := range r.GetIds() {
		ev := Event{Kind: "message", ID: id, Origin: r.GetOrigin(), Epoch: r.GetEpoch(), Seq: r.GetFirstSeq() + uint64(i),
			ContentType: r.GetContentType(), Payload: r.GetPayloads()[i]}
		if n := r.GetPublishedUnixNano()[i]; n != 0 {
			ev.Published = time.Unix(0, n)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Subscription is one topic subscription on a Conn.
type Subscription struct {
	c      *Conn
	id     uint64
	window int
	ready  chan struct{}
	ended  chan struct{}
	// wake (capacity 1) is signalled when an event arrives while Next
	// waits for one.
	wake chan struct{}

	mu        sync.Mutex
	confirmed bool
	err       error
	last      string
	unacked   int
	// in[head:] are the events received and not yet returned by Next, at
	// most window of them; waiting says Next waits for one.
	in      []Event
	head    int
	waiting bool
}

// Subscribe opens a subscription and waits until the node confirms it.
// A non-empty lastEventID resumes after that event (from any node).
// window is how many events the node may send ahead of Next (0: 1024).
func (c *Conn) Subscribe(ctx context.Context, topic, lastEventID string, window int) (*Subscription, error) {
	if window <= 0 {
		window = 1024
	}
	if window > 65536 {
		return nil, fmt.Errorf("streamclient: window %d exceeds 65536", window)
	}
	if !utf8.ValidString(topic) || !utf8.ValidString(lastEventID) {
		return nil, errors.New("streamclient: topic and last event id must be UTF-8")
	}
	s := &Subscription{
		c: c, id: c.subIDs.Add(1), window: window, last: lastEventID,
		ready: make(chan struct{}), ended: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.subs[s.id] = s
	c.mu.Unlock()
	cmd := &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Subscribe{Subscribe: &cassnetv1.StreamSubscribe{
		Sub: s.id, Topic: topic, LastEventId: lastEventID, Window: uint32(window)}}}
	if err := c.enqueue(ctx, cmd); err != nil {
		c.takeSub(s.id)
		return nil, err
	}
	select {
	case <-s.ready:
		return s, nil
	case <-s.ended:
		return nil, s.endErr()
	case <-ctx.Done():
		_ = s.Close()
		return nil, ctx.Err()
	}
}

func (s *Subscription) confirm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.confirmed {
		s.confirmed = true
		close(s.ready)
	}
}

// deliver hands events to Next, in order; false (and none taken) if
// they would overrun the window.
func (s *Subscription) deliver(evs ...Event) bool {
	s.mu.Lock()
	if len(s.in)-s.head+len(evs) > s.window {
		s.mu.Unlock()
		return false
	}
	if len(s.in)+len(evs) > cap(s.in) && s.head >= len(s.in)/2 {
		// Reuse the returned half before growing.
		n := copy(s.in, s.in[s.head:])
		clear(s.in[n:])
		s.in, s.head = s.in[:n], 0
	}
	s.in = append(s.in, evs...)
	wake := s.waiting
	s.waiting = false
	s.mu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// end ends the subscription with err (once).
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.ended)
	}
}

func (s *Subscription) endErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Next returns the next event. Events already received are returned
// before the end is reported. After an error, resume with LastEventID.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	s.mu.Lock()
	for s.head == len(s.in) {
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return Event{}, err
		}
		s.waiting = true
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.ended:
		case <-ctx.Done():
			s.mu.Lock()
			s.waiting = false
			s.mu.Unlock()
			return Event{}, ctx.Err()
		}
		s.mu.Lock()
	}
	ev := s.in[s.head]
	s.in[s.head] = Event{} // do not pin its payload
	s.head++
	if s.head == len(s.in) {
		s.in, s.head = s.in[:0], 0
	}
	s.last = ev.ID
	s.unacked++
	ack := 0
	if s.unacked >= max(1, s.window/4) {
		ack, s.unacked = s.unacked, 0
	}
	s.mu.Unlock()
	if ack > 0 {
		// Best effort: if the connection is gone, Next reports it soon.
		cmd := &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Ack{Ack: &cassnetv1.StreamAck{Sub: s.id, Count: uint32(ack)}}}
		_ = s.c.enqueue(context.Background(), cmd)
	}
	return ev, nil
}

// LastEventID is the id of the last event Next returned (or the id the
// subscription resumed from): Subscribe with it to continue after it.
func (s *Subscription) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Close ends the subscription.
func (s *Subscription) Close() error {
	if s.c.takeSub(s.id) == nil {
		return nil
	}
	s.end(ErrClosed)
	cmd := &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Unsubscribe{Unsubscribe: &cassnetv1.StreamUnsubscribe{Sub: s.id}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.enqueue(ctx, cmd); err != nil && err != ErrClosed {
		return err
	}
	return nil
}

// Limits on what the client accepts from a node.
const (
	maxReplies     = 1 << 16
	maxStringField = 8192
	// maxAckRun bounds one acknowledgement's count (a node sequences at
	// most 4,096 publishes of one request together).
	maxAckRun = 1 << 16
)

// decodeResponse parses and checks one node WebSocket message. The
// response keeps b: its payloads share b's memory (vtprotobuf's unsafe
// decoder, no copy), so b must be a buffer of its own, never reused or
// modified (readMessage); its strings are copies (detachResponse).
//
// The generated decoder does not validate UTF-8, which proto.Unmarshal
// did: every string a reply keeps is checked here. It refuses a known
// field sent with another wire type, which proto.Unmarshal keeps as an
// unknown field: on its error the message is decoded again with
// proto.Unmarshal, so nothing the previous decoder accepted is refused
// (FuzzResponseVTEquivalence).
func decodeResponse(b []byte) (*cassnetv1.StreamResponse, error) {
	resp := new(cassnetv1.StreamResponse)
	if err := resp.UnmarshalVTUnsafe(b); err != nil {
		resp = new(cassnetv1.StreamResponse)
		if err := proto.Unmarshal(b, resp); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
	}
	if len(resp.GetReplies()) > maxReplies {
		return nil, fmt.Errorf("%w: %d replies", ErrProtocol, len(resp.GetReplies()))
	}
	for _, r := range resp.GetReplies() {
		var strs []string
		switch r := r.GetReply().(type) {
		case *cassnetv1.StreamReply_Published:
			if r.Published.GetCount() > maxAckRun {
				return nil, fmt.Errorf("%w: an acknowledgement of %d publishes", ErrProtocol, r.Published.GetCount())
			}
			strs = []string{r.Published.GetId(), r.Published.GetOrigin(), r.Published.GetEpoch()}
		case *cassnetv1.StreamReply_Error:
			strs = []string{r.Error.GetCode(), r.Error.GetMessage()}
		case *cassnetv1.StreamReply_Event:
			e := r.Event
			if e.GetKind() != "message" && e.GetKind() != "gap" && e.GetKind() != "reset" {
				return nil, fmt.Errorf("%w: event kind %q", ErrProtocol, e.GetKind())
			}
			strs = []string{e.GetId(), e.GetOrigin(), e.GetEpoch(), e.GetContentType(), e.GetReason()}
		case *cassnetv1.StreamReply_Events:
			if err := checkEventRun(r.Events); err != nil {
				return nil, err
			}
			if err := checkStrings(r.Events.GetIds()...); err != nil {
				return nil, err
			}
			strs = []string{r.Events.GetOrigin(), r.Events.GetEpoch(), r.Events.GetContentType()}
		case *cassnetv1.StreamReply_Subscribed:
		case *cassnetv1.StreamReply_Ended:
			strs = []string{r.Ended.GetReason()}
		default:
			return nil, fmt.Errorf("%w: empty or unknown reply", ErrProtocol)
		}
		if err := checkStrings(strs...); err != nil {
			return nil, err
		}
	}
	detachResponse(resp)
	return resp, nil
}

// checkStrings checks string fields a reply keeps: each at most
// maxStringField bytes, and UTF-8.
func checkStrings(ss ...string) error {
	for _, s := range ss {
		if len(s) > maxStringField {
			return fmt.Errorf("%w: a field of %d bytes", ErrProtocol, len(s))
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("%w: a string field is not UTF-8", ErrProtocol)
		}
	}
	return nil
}

// checkEventRun checks a run's shape: lists of one length, at least 1,
// whose sequence numbers do not wrap.
func checkEventRun(r *cassnetv1.StreamEventRun) error {
	n := len(r.GetIds())
	if n == 0 || len(r.GetPayloads()) != n || len(r.GetPublishedUnixNano()) != n {
		return fmt.Errorf("%w: a run of %d ids, %d payloads and %d times", ErrProtocol,
			n, len(r.GetPayloads()), len(r.GetPublishedUnixNano()))
	}
	if r.GetFirstSeq() > math.MaxUint64-uint64(n-1) {
		return fmt.Errorf("%w: a run's sequence numbers wrap", ErrProtocol)
	}
	return nil
}

// detachResponse gives a checked response's strings memory of their own,
// so that an event ID an application keeps does not keep the whole
// WebSocket message alive, and caps each payload at its length, so that
// an append to one cannot write over its neighbours. Event kinds become
// the constants; origins, epochs and content types repeat from one reply
// to the next: one copy each run.
func detachResponse(resp *cassnetv1.StreamResponse) {
	var raw, own [3]string
	same := func(slot int, s string) string {
		if s != raw[slot] {
			raw[slot], own[slot] = s, strings.Clone(s)
		}
		return own[slot]
	}
	for _, r := range resp.GetReplies() {
		switch r := r.GetReply().(type) {
		case *cassnetv1.StreamReply_Published:
			p := r.Published
			p.Id, p.Origin, p.Epoch = strings.Clone(p.Id), same(0, p.Origin), same(1, p.Epoch)
		case *cassnetv1.StreamReply_Error:
			r.Error.Code, r.Error.Message = strings.Clone(r.Error.Code), strings.Clone(r.Error.Message)
		case *cassnetv1.StreamReply_Event:
			e := r.Event
			switch e.Kind {
			case "message":
				e.Kind = "message"
			case "gap":
				e.Kind = "gap"
			default:
				e.Kind = "reset"
			}
			e.Id, e.Origin, e.Epoch = strings.Clone(e.Id), same(0, e.Origin), same(1, e.Epoch)
			e.ContentType, e.Reason = same(2, e.ContentType), strings.Clone(e.Reason)
			e.Payload = slices.Clip(e.Payload)
		case *cassnetv1.StreamReply_Events:
			detachEventRun(r.Events, same)
		case *cassnetv1.StreamReply_Ended:
			r.Ended.Reason = strings.Clone(r.Ended.Reason)
		}
	}
}

// detachEventRun detaches a run as detachResponse does an event, except
// that its ids share one allocation (one copy of them all, cut into the
// ids): an application that keeps one id keeps the run's ids alive, not
// the WebSocket message.
func detachEventRun(r *cassnetv1.StreamEventRun, same func(int, string) string) {
	r.Origin, r.Epoch, r.ContentType = same(0, r.Origin), same(1, r.Epoch), same(2, r.ContentType)
	all := strings.Join(r.Ids, "")
	off := 0
	for i, id := range r.Ids {
		r.Ids[i] = all[off : off+len(id)]
		off += len(id)
	}
	for i, p := range r.Payloads {
		r.Payloads[i] = slices.Clip(p)
	}
}

// readMessage reads one WebSocket message into a new buffer, which the
// decoded response keeps (decodeResponse). *hint is the previous
// message's size: the buffer starts that large, so a run of similar
// messages costs one allocation each and no copies. It starts a quarter
// larger than that: bytes.Buffer doubles (a copy and an allocation twice
// the size) as soon as less than bytes.MinRead is free, which a message
// just past the previous one's size would otherwise cost, and writers that
// coalesce up to a byte bound send such runs.
func readMessage(r io.Reader, hint *int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, max(*hint+*hint/4, 4<<10)+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	*hint = buf.Len()
	return buf.Bytes(), nil
}
