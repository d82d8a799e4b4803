// Package streamclient is the Go client of CassandraNet's streaming
// protocol for services: one long-lived, authenticated WebSocket to a
// node (GET /v1/tenants/{tenant}/stream) that carries publishes and their
// acknowledgements, subscriptions with flow control, and resume. The
// protocol is in proto/cassandranet/v1/stream.proto and docs/pubsub.md.
//
// # What it owns
//
// A Conn owns its socket and two goroutines, started by Dial and stopped
// and awaited by Close: a writer that sends the queued commands, encoded
// as they were queued, many to a WebSocket message (a burst of publishes
// costs one frame; queue.go), and a reader that dispatches the node's
// replies to the waiting publishes and to the subscriptions.
//
// # Guarantees
//
// The node's (docs/pubsub.md): per stream order, no duplicates, and every
// lost message reported as a gap. A Conn does not reconnect by itself:
// when it fails, Err says why, every pending publish fails (its outcome
// is unknown: it may have been sequenced), and each Subscription's Next
// returns the error. Dial again, to any node, and Subscribe with
// Subscription.LastEventID to resume exactly where it stopped.
//
// All methods are safe for concurrent use, except that one Subscription's
// Next must be called from one goroutine at a time.
package streamclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/gorilla/websocket"
)

// Errors callers can test with errors.Is.
var (
	// ErrClosed: the Conn or the Subscription was closed.
	ErrClosed = errors.New("streamclient: closed")
	// ErrEnded: the node ended the subscription (it fell behind, or the
	// node is stopping); subscribe again with LastEventID.
	ErrEnded = errors.New("streamclient: subscription ended by the node")
	// ErrProtocol: the node sent something this client cannot accept.
	ErrProtocol = errors.New("streamclient: protocol error")
)

// Error is a refusal by the node, with its REST error code
// (invalid_argument, payload_too_large, rate_limited, not_found,
// not_ready, internal).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "streamclient: " + e.Code + ": " + e.Message }

// Config configures Dial.
type Config struct {
	// URL is the node's REST base URL: http://host:8080 or https://...
	// (ws:// and wss:// are accepted too).
	URL string
	// Tenant is the tenant whose topics the connection uses.
	Tenant string
	// Credential is an API key (tenant-admin or game-server) or an
	// operator token, sent as a bearer token at the upgrade. Leave it
	// empty to authenticate with a client certificate from the cluster
	// CA in TLS instead (cassnet tls client create; docs/pubsub.md).
	Credential string
	// TLS configures https/wss: the roots that verify the node, and a
	// client certificate if the deployment uses one.
	TLS *tls.Config
	// QueueSize bounds the commands queued for the writer (default
	// 8192); Publish waits while it is full.
	QueueSize int
	// Logger receives debug logs (default slog.Default()).
	Logger *slog.Logger
}

// Conn is one streaming connection.
type Conn struct {
	cfg    Config
	ws     *websocket.Conn
	log    *slog.Logger
	done   chan struct{}
	wg     sync.WaitGroup
	subIDs atomic.Uint64

	// mu guards err, subs and q (the queued commands and the pending
	// publishes).
	mu   sync.Mutex
	err  error
	subs map[uint64]*Subscription
	q    outQueue
}

// Dial opens a connection; ctx bounds the handshake only.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	u, err := streamURL(cfg.URL, cfg.Tenant)
	if err != nil {
		return nil, err
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := websocket.Dialer{
		TLSClientConfig: cfg.TLS, HandshakeTimeout: 10 * time.Second,
		ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10,
		// v2 lets the node acknowledge a run of publishes in one reply, v3
		// also send a run of messages in one; a node that knows neither
		// answers each publish and sends each event alone (v1).
		Subprotocols: []string{protocolV3, protocolV2},
	}
	h := http.Header{}
	if cfg.Credential != "" {
		h.Set("Authorization", "Bearer "+cfg.Credential)
	}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("streamclient: dial %s: HTTP %d: %w", u, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("streamclient: dial %s: %w", u, err)
	}
	ws.SetReadLimit(64 << 20)
	c := &Conn{
		cfg: cfg, ws: ws, log: cfg.Logger,
		done: make(chan struct{}), subs: make(map[uint64]*Subscription), q: newOutQueue(),
	}
	c.wg.Go(c.writeLoop)
	c.wg.Go(c.readLoop)
	return c, nil
}

// streamURL turns a REST base URL into the tenant's stream URL.
func streamURL(base, tenant string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("streamclient: URL %q: want http(s)://host:port", base)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("streamclient: URL %q: scheme must be http, https, ws or wss", base)
	}
	if tenant == "" || strings.ContainsAny(tenant, "/?#") {
		return "", fmt.Errorf("streamclient: bad tenant %q", tenant)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/tenants/" + tenant + "/stream"
	return u.String(), nil
}

// Err is why the connection failed, or nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the connection has failed or been closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection and waits for its goroutines. Pending
// publishes fail with ErrClosed (their outcome is unknown).
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

// fail records the first error, closes the socket and fails everything
// that waits.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending, subs := c.q.allPending(), c.subs
	c.subs = map[uint64]*Subscription{}
	close(c.done)
	c.mu.Unlock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	_ = c.ws.Close()
	for _, p := range pending {
		p.finish(Published{}, err)
	}
	for _, s := range subs {
		s.end(err)
	}
}

// writeLoop sends the queued segments, each as one WebSocket message,
// until the connection fails.
func (c *Conn) writeLoop() {
	var segs [][]byte
	for {
		select {
		case <-c.done:
			return
		case <-c.q.kick:
		}
		c.mu.Lock()
		segs = c.q.take(segs[:0])
		c.mu.Unlock()
		for _, seg := range segs {
			_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := c.ws.WriteMessage(websocket.BinaryMessage, seg); err != nil {
				c.fail(fmt.Errorf("streamclient: write: %w", err))
				return
			}
		}
		c.mu.Lock()
		for _, seg := range segs {
			c.q.recycle(seg)
		}
		c.mu.Unlock()
		clear(segs)
	}
}

// readLoop dispatches the node's replies until the connection fails.
func (c *Conn) readLoop() {
	var hint int // a new buffer each message: the decoded response keeps it
	var run eventRun
	for {
		kind, r, err := c.ws.NextReader()
		var data []byte
		if err == nil {
			data, err = readMessage(r, &hint)
		}
		if err != nil {
			c.fail(fmt.Errorf("streamclient: read: %w", err))
			return
		}
		if kind != websocket.BinaryMessage {
			c.fail(fmt.Errorf("%w: text message", ErrProtocol))
			return
		}
		resp, err := decodeResponse(data)
		if err != nil {
			c.fail(err)
			return
		}
		if err := c.dispatchAll(resp.GetReplies(), &run); err != nil {
			c.fail(err)
			return
		}
	}
}

// eventRun collects consecutive events of one subscription, handed over
// together (one lock for the run).
type eventRun struct {
	sub uint64
	evs []Event
}

// dispatchAll dispatches one message's replies in order: runs of events
// of one subscription in one delivery, anything else one by one.
func (c *Conn) dispatchAll(replies []*cassnetv1.StreamReply, run *eventRun) error {
	flush := func() error {
		if len(run.evs) == 0 {
			return nil
		}
		s := c.sub(run.sub)
		ok := s == nil || s.deliver(run.evs...)
		clear(run.evs)
		run.evs = run.evs[:0]
		if !ok {
			return fmt.Errorf("%w: the node sent more events than the window", ErrProtocol)
		}
		return nil
	}
	join := func(sub uint64) error {
		if len(run.evs) > 0 && run.sub != sub {
			if err := flush(); err != nil {
				return err
			}
		}
		run.sub = sub
		return nil
	}
	for _, r := range replies {
		if e := r.GetEvent(); e != nil {
			if err := join(e.GetSub()); err != nil {
				return err
			}
			run.evs = append(run.evs, eventOf(e))
			continue
		}
		if er := r.GetEvents(); er != nil {
			if err := join(er.GetSub()); err != nil {
				return err
			}
			run.evs = appendEventRun(run.evs, er)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.dispatch(r); err != nil {
			return err
		}
	}
	return flush()
}

// dispatch handles one reply other than an event (dispatchAll delivers
// those).
func (c *Conn) dispatch(r *cassnetv1.StreamReply) error {
	switch r := r.GetReply().(type) {
	case *cassnetv1.StreamReply_Published:
		c.acknowledged(r.Published)
	case *cassnetv1.StreamReply_Error:
		e := r.Error
		nerr := &Error{Code: e.GetCode(), Message: e.GetMessage()}
		switch {
		case e.GetRef() != 0:
			if pd := c.takePending(e.GetRef()); pd != nil {
				pd.finish(Published{}, nerr)
			}
		case e.GetSub() != 0:
			if s := c.takeSub(e.GetSub()); s != nil {
				s.end(nerr)
			}
		default:
			return nerr
		}
	case *cassnetv1.StreamReply_Subscribed:
		if s := c.sub(r.Subscribed.GetSub()); s != nil {
			s.confirm()
		}
	case *cassnetv1.StreamReply_Ended:
		if s := c.takeSub(r.Ended.GetSub()); s != nil {
			s.end(fmt.Errorf("%w: %s", ErrEnded, r.Ended.GetReason()))
		}
	}
	return nil
}

const (
	// protocolV2 is the WebSocket subprotocol that allows
	// acknowledgements of runs of publishes (StreamPublished.count).
	protocolV2 = "cassnet.stream.v2"
	// protocolV3 is v2 plus runs of message events (StreamEventRun). The
	// client offers both; a node that knows only v2 picks v2.
	protocolV3 = "cassnet.stream.v3"
)

// acknowledged finishes the publishes a published reply acknowledges:
// one, or count consecutive refs sequenced as consecutive seqs.
func (c *Conn) acknowledged(p *cassnetv1.StreamPublished) {
	n := uint64(max(p.GetCount(), 1))
	pds := make([]*Pending, n)
	c.mu.Lock()
	for i := range n {
		pds[i] = c.q.takePending(p.GetRef() + i)
	}
	c.mu.Unlock()
	for i, pd := range pds {
		if pd == nil {
			continue
		}
		res := Published{ID: p.GetId(), Origin: p.GetOrigin(), Epoch: p.GetEpoch(), Seq: p.GetSeq() + uint64(i)}
		if i > 0 {
			res.ID = messageID(res.Origin, res.Epoch, res.Seq)
		}
		pd.finish(res, nil)
	}
}

// messageID formats "<origin>:<epoch>:<seq>" as the node does.
func messageID(origin, epoch string, seq uint64) string {
	b := make([]byte, 0, len(origin)+len(epoch)+22)
	b = append(append(append(b, origin...), ':'), epoch...)
	b = strconv.AppendUint(append(b, ':'), seq, 10)
	return string(b)
}

func (c *Conn) takePending(ref uint64) *Pending {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.q.takePending(ref)
}

func (c *Conn) sub(id uint64) *Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[id]
}

func (c *Conn) takeSub(id uint64) *Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[id]
	delete(c.subs, id)
	return s
}
