package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/gorilla/websocket"
)

// The streaming client protocol: GET /v1/tenants/{tenant}/stream upgrades
// to a WebSocket that carries publishes, their acknowledgements,
// subscriptions with flow control, and resume, for one tenant
// (proto/cassandranet/v1/stream.proto; docs/pubsub.md#streaming).
//
// The credential is checked once, at the upgrade, by the same
// authorisation layer as every route (tenant isolation, roles); publishes
// still draw from the publish rate limits, one token a message.
//
// Goroutines of one connection, all owned and awaited by handleStream:
// the reader (the handler's own goroutine: decodes requests, sequences
// publishes in arrival order, opens and closes subscriptions), one writer
// (the only one that writes to the socket: it coalesces whatever replies
// are queued into one WebSocket message, and pings), and one pump per
// subscription (Next, within the window the client has acknowledged).

const (
	// streamOutQueue bounds the replies queued for the writer; when it is
	// full the reader and the pumps wait (back-pressure, no drops).
	streamOutQueue = 8192
	// streamCoalesce bounds the replies and bytes of one WebSocket
	// message the writer sends.
	streamCoalesce      = 1024
	streamCoalesceBytes = 128 << 10
	// streamPumpBatch bounds the events a pump takes and queues at once.
	streamPumpBatch = 256
	// streamProtocolV2 is the WebSocket subprotocol with which a client
	// accepts acknowledgements of runs of publishes (StreamPublished.count).
	// A client that offers none gets one acknowledgement per publish.
	streamProtocolV2 = "cassnet.stream.v2"
	// streamProtocolV3 is v2 plus runs of message events
	// (StreamEventRun): one reply for consecutive messages of one stream
	// instead of one StreamEvent each.
	streamProtocolV3 = "cassnet.stream.v3"
	// streamPing is how often the node pings; a client silent (no
	// message, no pong) for streamIdle is dropped.
	streamPing  = 15 * time.Second
	streamIdle  = 45 * time.Second
	streamWrite = 30 * time.Second
)

// streamSet tracks the open connections, so that CloseStreams can end
// them: hijacked connections are outside http.Server.Shutdown.
type streamSet struct {
	mu     sync.Mutex
	m      map[*streamConn]struct{}
	closed bool
}

func (ss *streamSet) add(c *streamConn) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	if ss.m == nil {
		ss.m = make(map[*streamConn]struct{})
	}
	ss.m[c] = struct{}{}
	return true
}

func (ss *streamSet) remove(c *streamConn) {
	ss.mu.Lock()
	delete(ss.m, c)
	ss.mu.Unlock()
}

// CloseStreams ends every streaming connection, now and from now on (the
// node calls it when its HTTP server shuts down; clients reconnect to
// another node and resume). It does not wait for them.
func (s *Server) CloseStreams() {
	s.streams.mu.Lock()
	s.streams.closed = true
	conns := s.streams.m
	s.streams.m = nil
	s.streams.mu.Unlock()
	for c := range conns {
		c.cancel()
		_ = c.ws.NetConn().Close()
	}
}

// streamConn is one client connection.
type streamConn struct {
	s      *Server
	ws     *websocket.Conn
	topics Topics
	tenant string
	p      Principal
	ctx    context.Context
	cancel context.CancelFunc
	out    chan []*cassnetv1.StreamReply
	wg     sync.WaitGroup
	// rangeAcks: the client negotiated streamProtocolV2 or V3, so one
	// published reply may acknowledge a run of consecutive refs.
	rangeAcks bool
	// renderEvents renders a batch of events for the wire:
	// streamEventRuns when the client negotiated streamProtocolV3, else
	// streamEvents.
	renderEvents func(sub uint64, evs []TopicEvent) []*cassnetv1.StreamReply

	mu   sync.Mutex
	subs map[uint64]*streamSub
}

// streamSub is one subscription of a connection.
type streamSub struct {
	id     uint64
	cancel context.CancelFunc
	credit atomic.Int64
	wake   chan struct{} // signalled when credit grows
}

func (s *Server) streamUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10,
		HandshakeTimeout: 10 * time.Second,
		// The first of these the client also offers is chosen.
		Subprotocols: []string{streamProtocolV3, streamProtocolV2},
		// CheckOrigin is gorilla's default: a browser page may only open
		// a stream to its own origin.
	}
}

// handleStream upgrades to the streaming protocol and serves it until
// the client or the node closes it.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, p Principal) {
	topics, ok := s.topicsOr503(w)
	if !ok {
		return
	}
	tenant := r.PathValue("tenant")
	if !s.tenantExists(w, r, tenant) {
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.fail(w, r, errorf(http.StatusBadRequest, consensus.ErrInvalid.Code,
			"this route is a WebSocket (Connection: Upgrade, Upgrade: websocket); see docs/pubsub.md"))
		return
	}
	ws, err := s.streamUpgrader().Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &streamConn{
		s: s, ws: ws, topics: topics, tenant: tenant, p: p, ctx: ctx, cancel: cancel,
		out: make(chan []*cassnetv1.StreamReply, streamOutQueue), subs: make(map[uint64]*streamSub),
		rangeAcks:    ws.Subprotocol() == streamProtocolV2 || ws.Subprotocol() == streamProtocolV3,
		renderEvents: streamEvents,
	}
	if ws.Subprotocol() == streamProtocolV3 {
		c.renderEvents = streamEventRuns
	}
	if !s.streams.add(c) {
		cancel()
		_ = ws.Close()
		return
	}
	defer s.streams.remove(c)
	c.wg.Go(c.writeLoop)
	err = c.readLoop(topics.MaxMessageSize())
	if err != nil && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && ctx.Err() == nil {
		s.log.Debug("stream closed", "tenant", tenant, "err", err)
	}
	cancel()
	c.wg.Wait()
	_ = ws.Close()
}

// readLoop reads and handles requests until the connection fails.
func (c *streamConn) readLoop(maxPayload int) error {
	c.ws.SetReadLimit(streamReadLimit(maxPayload))
	alive := func() error { return c.ws.SetReadDeadline(time.Now().Add(streamIdle)) }
	c.ws.SetPongHandler(func(string) error { return alive() })
	var hint int // a new buffer each message: the decoded request keeps it
	for {
		if err := alive(); err != nil {
			return err
		}
		kind, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		data, err := readStreamMessage(r, &hint)
		if err != nil {
			return err
		}
		if kind != websocket.BinaryMessage {
			c.send(streamError(0, 0, consensus.ErrInvalid.Code, "messages must be binary StreamRequest protobufs"))
			return errors.New("text message")
		}
		req, err := decodeStreamRequest(data, maxPayload)
		if err != nil {
			c.send(streamError(0, 0, consensus.ErrInvalid.Code, err.Error()))
			return err
		}
		c.handle(req.GetCommands())
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
	}
}

// handle runs one request's commands in order. Consecutive publishes on
// one topic are sequenced together (one PublishBatch).
func (c *streamConn) handle(cmds []*cassnetv1.StreamCommand) {
	for i := 0; i < len(cmds); {
		if pub := cmds[i].GetPublish(); pub != nil {
			j := i + 1
			for j < len(cmds) && j-i < maxPublishBatch && cmds[j].GetPublish() != nil && cmds[j].GetPublish().GetTopic() == pub.GetTopic() {
				j++
			}
			c.publish(cmds[i:j])
			i = j
			continue
		}
		switch cmd := cmds[i].GetCommand().(type) {
		case *cassnetv1.StreamCommand_Subscribe:
			c.subscribe(cmd.Subscribe)
		case *cassnetv1.StreamCommand_Unsubscribe:
			c.unsubscribe(cmd.Unsubscribe.GetSub())
		case *cassnetv1.StreamCommand_Ack:
			c.ack(cmd.Ack)
		}
		i++
	}
}

// publish sequences a run of publishes on one topic and answers each. A
// message that is too large or has a bad content type is refused alone;
// the rest of the run is sequenced together.
func (c *streamConn) publish(run []*cassnetv1.StreamCommand) {
	maxPayload := c.topics.MaxMessageSize()
	cmds := run[:0:0]
	for _, cmd := range run {
		p := cmd.GetPublish()
		switch {
		case len(p.GetPayload()) > maxPayload:
			c.send(streamError(p.GetRef(), 0, codePayloadTooLarge,
				fmt.Sprintf("%d bytes, the limit is %d", len(p.GetPayload()), maxPayload)))
		case !visibleASCII(p.GetContentType()):
			c.send(streamError(p.GetRef(), 0, consensus.ErrInvalid.Code, "content type must be visible ASCII"))
		default:
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) == 0 {
		return
	}
	fail := func(code, msg string) {
		for _, cmd := range cmds {
			c.send(streamError(cmd.GetPublish().GetRef(), 0, code, msg))
		}
	}
	if ok, wait := c.s.limits.publish.allowN(c.p, c.s.now(), len(cmds)); !ok {
		fail(codeRateLimited, "too many publishes; retry after "+wait.Round(time.Millisecond).String())
		c.s.metrics.rateLimited.WithLabelValues(c.tenant, "GET "+streamPath).Add(float64(len(cmds)))
		return
	}
	msgs := make([]TopicMessage, len(cmds))
	for i, cmd := range cmds {
		// The decoder gives every payload its own allocation
		// (decodeStreamRequest), which nothing else keeps or modifies.
		msgs[i] = TopicMessage{ContentType: cmd.GetPublish().GetContentType(), Payload: cmd.GetPublish().GetPayload(), Owned: true}
	}
	res, err := publishBatch(c.ctx, c.topics, c.tenant, cmds[0].GetPublish().GetTopic(), msgs)
	if err != nil {
		fail(c.s.topicErrorCode(err))
		return
	}
	c.sendAll(c.acknowledge(cmds, res))
}

// acknowledge renders the acknowledgements of cmds, sequenced as res: one
// reply per publish, or with rangeAcks one per run of consecutive refs.
func (c *streamConn) acknowledge(cmds []*cassnetv1.StreamCommand, res []PublishedMessage) []*cassnetv1.StreamReply {
	if !c.rangeAcks {
		out := make([]*cassnetv1.StreamReply, len(cmds))
		for i, cmd := range cmds {
			out[i] = streamPublished(cmd.GetPublish().GetRef(), res[i], 1)
		}
		return out
	}
	var out []*cassnetv1.StreamReply
	for i := 0; i < len(cmds); {
		j := i + 1
		for j < len(cmds) && cmds[j].GetPublish().GetRef() == cmds[j-1].GetPublish().GetRef()+1 &&
			res[j].Seq == res[j-1].Seq+1 && res[j].Epoch == res[i].Epoch && res[j].Origin == res[i].Origin {
			j++
		}
		out = append(out, streamPublished(cmds[i].GetPublish().GetRef(), res[i], uint32(j-i)))
		i = j
	}
	return out
}

// subscribe opens a subscription; its pump subscribes (which may block
// on a resume's backfill) and then streams.
func (c *streamConn) subscribe(cmd *cassnetv1.StreamSubscribe) {
	id := cmd.GetSub()
	c.mu.Lock()
	_, dup := c.subs[id]
	full := len(c.subs) >= maxStreamSubs
	var sub *streamSub
	if !dup && !full {
		ctx, cancel := context.WithCancel(c.ctx)
		sub = &streamSub{id: id, cancel: cancel, wake: make(chan struct{}, 1)}
		window := int64(cmd.GetWindow())
		if window == 0 {
			window = defaultStreamWindow
		}
		sub.credit.Store(window)
		c.subs[id] = sub
		c.wg.Go(func() { c.pump(ctx, sub, cmd.GetTopic(), cmd.GetLastEventId()) })
	}
	c.mu.Unlock()
	switch {
	case dup:
		c.send(streamError(0, id, consensus.ErrInvalid.Code, "subscription id already in use"))
	case full:
		c.send(streamError(0, id, codeRateLimited, "too many subscriptions on this connection"))
	}
}

func (c *streamConn) unsubscribe(id uint64) {
	c.mu.Lock()
	sub := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if sub != nil {
		sub.cancel()
	}
}

func (c *streamConn) ack(cmd *cassnetv1.StreamAck) {
	c.mu.Lock()
	sub := c.subs[cmd.GetSub()]
	c.mu.Unlock()
	if sub == nil {
		return // acknowledgements may cross an unsubscribe
	}
	if sub.credit.Add(int64(cmd.GetCount())) > maxStreamWindow {
		sub.credit.Store(maxStreamWindow)
	}
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// pump feeds one subscription's events to the writer within its window,
// as many at once as are ready (up to streamPumpBatch).
func (c *streamConn) pump(ctx context.Context, sub *streamSub, topic, last string) {
	defer c.unsubscribe(sub.id)
	stream, err := c.topics.Subscribe(ctx, c.tenant, topic, last)
	if err != nil {
		if ctx.Err() == nil {
			code, msg := c.s.topicErrorCode(err)
			c.send(streamError(0, sub.id, code, msg))
		}
		return
	}
	defer stream.Close()
	c.send(&cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Subscribed{Subscribed: &cassnetv1.StreamSubscribed{Sub: sub.id}}})
	evs := make([]TopicEvent, 0, streamPumpBatch)
	for {
		credit := sub.credit.Load()
		for credit <= 0 {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
			}
			credit = sub.credit.Load()
		}
		evs, err = nextEvents(ctx, stream, evs[:0], int(min(credit, streamPumpBatch)))
		if len(evs) > 0 {
			sub.credit.Add(-int64(len(evs)))
			if !c.sendAll(c.renderEvents(sub.id, evs)) {
				return
			}
			clear(evs) // the payloads are the history's: do not pin them here
		}
		if err != nil {
			if ctx.Err() == nil {
				c.send(&cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Ended{Ended: &cassnetv1.StreamEnded{Sub: sub.id, Reason: err.Error()}}})
			}
			return
		}
	}
}

// send queues a reply for the writer; false once the connection is gone.
func (c *streamConn) send(r *cassnetv1.StreamReply) bool {
	return c.sendAll([]*cassnetv1.StreamReply{r})
}

// sendAll queues replies, in order, for the writer; false once the
// connection is gone. The writer owns rs from then on.
func (c *streamConn) sendAll(rs []*cassnetv1.StreamReply) bool {
	if len(rs) == 0 {
		return true
	}
	select {
	case c.out <- rs:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// writeLoop is the connection's only writer: it sends queued replies,
// coalesced, and pings. A write failure ends the connection.
func (c *streamConn) writeLoop() {
	defer c.cancel()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	var resp cassnetv1.StreamResponse
	var buf []byte
	for {
		select {
		case <-c.ctx.Done():
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(streamWrite)) != nil {
				return
			}
			continue
		case rs := <-c.out:
			resp.Replies = append(resp.Replies[:0], rs...)
		}
		size := repliesSize(resp.Replies)
	drain:
		for len(resp.Replies) < streamCoalesce && size < streamCoalesceBytes {
			select {
			case rs := <-c.out:
				resp.Replies = append(resp.Replies, rs...)
				size += repliesSize(rs)
			default:
				break drain
			}
		}
		var err error
		buf, err = appendStreamResponse(buf, &resp)
		clear(resp.Replies)
		if err == nil {
			_ = c.ws.SetWriteDeadline(time.Now().Add(streamWrite))
			err = c.ws.WriteMessage(websocket.BinaryMessage, buf)
		}
		if err != nil {
			c.s.log.Debug("stream write failed", "tenant", c.tenant, "err", err)
			return
		}
	}
}

// topicErrorCode is topicError for the streaming protocol: the REST
// error code and a message safe to show.
func (s *Server) topicErrorCode(err error) (string, string) {
	msg := func(sentinel error) string {
		m := err.Error()
		if i := strings.Index(m, sentinel.Error()+": "); i >= 0 {
			return m[i+len(sentinel.Error())+2:]
		}
		return sentinel.Error()
	}
	switch {
	case errors.Is(err, ErrTopicInvalid):
		return consensus.ErrInvalid.Code, msg(ErrTopicInvalid)
	case errors.Is(err, ErrTopicTooLarge):
		return codePayloadTooLarge, msg(ErrTopicTooLarge)
	case errors.Is(err, ErrTopicsUnavailable):
		return codeNotReady, msg(ErrTopicsUnavailable)
	case errors.Is(err, context.Canceled):
		return codeCanceled, "the connection is closing"
	}
	s.log.Error("stream: topic operation failed", "err", err)
	return codeInternal, "internal error"
}
