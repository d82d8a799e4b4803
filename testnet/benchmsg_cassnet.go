package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/streamclient"
)

// restPub publishes one message per HTTP request.
type restPub struct {
	hc                *http.Client
	addr, token, path string
}

func (p restPub) publish(ctx context.Context, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr+p.path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return &StatusError{Status: resp.StatusCode, Body: string(b)}
	}
	return nil
}
func (restPub) flush() error { return nil }

// sseSub reads an SSE subscription.
type sseSub struct{ s *sseStream }

func (s sseSub) next(ctx context.Context) (msgEvent, error) {
	for {
		var ev sseEvent
		var ok bool
		select {
		case ev, ok = <-s.s.events:
		case <-ctx.Done():
			return msgEvent{}, ctx.Err()
		}
		if !ok {
			return msgEvent{}, io.EOF
		}
		switch ev.Event {
		case "message":
			var m struct {
				Seq           uint64 `json:"seq"`
				PayloadBase64 []byte `json:"payload_base64"`
			}
			if err := json.Unmarshal(ev.Data, &m); err != nil {
				return msgEvent{}, err
			}
			return msgEvent{payload: m.PayloadBase64, seq: m.Seq}, nil
		case "gap":
			var g struct{ From, To uint64 }
			if err := json.Unmarshal(ev.Data, &g); err != nil {
				return msgEvent{}, err
			}
			return msgEvent{gap: true, from: g.From, to: g.To}, nil
		default:
			return msgEvent{}, fmt.Errorf("SSE event %s: %s", ev.Event, ev.Data)
		}
	}
}

// streamPub publishes through a streaming connection without waiting for
// each acknowledgement; a goroutine it owns checks them in order.
type streamPub struct {
	c     *streamclient.Conn
	topic string
	acks  chan *streamclient.Pending
	run   *msgRun
	wg    sync.WaitGroup
}

func newStreamPub(c *streamclient.Conn, topic string) *streamPub {
	p := &streamPub{c: c, topic: topic, acks: make(chan *streamclient.Pending, 2*msgWindow)}
	p.wg.Go(func() {
		for pd := range p.acks {
			if _, err := pd.Wait(context.Background()); err != nil && p.run != nil {
				p.run.fail(err)
			}
		}
	})
	return p
}

func (p *streamPub) publish(ctx context.Context, payload []byte) error {
	pd := p.c.PublishAsync(ctx, p.topic, "application/octet-stream", payload)
	select {
	case <-pd.Done(): // refused before it was sent (the phase ended, the connection failed)
		if _, err := pd.Wait(ctx); err != nil {
			return err
		}
	default:
	}
	select {
	case p.acks <- pd:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (p *streamPub) flush() error { return nil }

func (p *streamPub) close() {
	close(p.acks)
	p.wg.Wait()
}

type streamSub struct{ s *streamclient.Subscription }

func (s streamSub) next(ctx context.Context) (msgEvent, error) {
	ev, err := s.s.Next(ctx)
	if err != nil {
		return msgEvent{}, err
	}
	switch ev.Kind {
	case "message":
		return msgEvent{payload: ev.Payload, seq: ev.Seq}, nil
	case "gap":
		return msgEvent{gap: true, from: ev.From, to: ev.To}, nil
	}
	return msgEvent{}, fmt.Errorf("stream event %s: %s", ev.Kind, ev.Reason)
}

// CassnetMsg is cassnet's messaging results.
type CassnetMsg struct {
	RESTThroughput MsgPhase `json:"rest_throughput"`
	RESTLatency    MsgPhase `json:"rest_latency"`
	// StreamThroughput and StreamLatency are the median rounds of the
	// streaming phases (by msgs/s, and by p99); the Rounds lists hold
	// every round in order (benchrounds.go).
	StreamThroughput       MsgPhase   `json:"stream_throughput"`
	StreamLatency          MsgPhase   `json:"stream_latency"`
	StreamThroughputRounds []MsgPhase `json:"stream_throughput_rounds"`
	StreamLatencyRounds    []MsgPhase `json:"stream_latency_rounds"`
}

// phases is every phase measured, each round once.
func (m *CassnetMsg) phases() []MsgPhase {
	return slices.Concat([]MsgPhase{m.RESTThroughput, m.RESTLatency}, m.StreamThroughputRounds, m.StreamLatencyRounds)
}

// SilentDrops sums every phase's silent drops.
func (m *CassnetMsg) SilentDrops() (n int) {
	for _, p := range m.phases() {
		n += p.SilentDrops
	}
	return n
}

// Duplicates sums every phase's duplicate deliveries.
func (m *CassnetMsg) Duplicates() (n int) {
	for _, p := range m.phases() {
		n += p.Duplicates
	}
	return n
}

// msgRates are the rates of the messaging shapes: unpaced, then paced.
var msgRates = []int{0, msgLatencyRate}

// benchCassnetMessaging runs the cassnet messaging phases on a running
// cluster, publishing on the last node and subscribing on the first: REST
// + SSE at each rate once, then rounds of the streaming protocol at each
// rate, alternating with peer's phases if peer is not nil. It returns the
// peer's phases by rate and round.
func benchCassnetMessaging(ctx context.Context, progress io.Writer, addrs []string, pids []int, token, tenant string, d time.Duration, peer *natsSystem, rounds int) (CassnetMsg, [][]MsgPhase, error) {
	var out CassnetMsg
	pubAddr, subAddr := addrs[len(addrs)-1], addrs[0]
	hc := NewLoadHTTPClient(pubConcurrencyREST)
	defer hc.CloseIdleConnections()
	for i, rate := range msgRates {
		topic := fmt.Sprintf("bench-rest-%d", i)
		sse, err := openSSE(ctx, subAddr, token, "/v1/tenants/"+tenant+"/topics/"+topic+"/events", "")
		if err != nil {
			return out, nil, fmt.Errorf("subscribe: %w", err)
		}
		n := pubConcurrencyREST
		if rate > 0 {
			n = 1
		}
		pubs := make([]msgPub, n)
		for j := range pubs {
			pubs[j] = restPub{hc: hc, addr: pubAddr, token: token, path: "/v1/tenants/" + tenant + "/topics/" + topic + "/messages"}
		}
		fmt.Fprintf(progress, "bench: messaging through REST + SSE, rate %s\n", rateName(rate))
		res := runMsgPhase(ctx, pubs, sseSub{sse}, d, rate, true, pids)
		sse.close()
		if rate == 0 {
			out.RESTThroughput = res
		} else {
			out.RESTLatency = res
		}
	}
	systems := []namedSystem{{"cassnet streaming protocol", &cassnetStream{pubAddr: pubAddr, subAddr: subAddr, pids: pids, token: token, tenant: tenant, d: d}}}
	if peer != nil {
		systems = append(systems, namedSystem{"NATS", peer})
	}
	res, err := runRounds(ctx, progress, systems, msgRates, max(rounds, 1))
	if err != nil {
		return out, nil, err
	}
	out.StreamThroughputRounds, out.StreamLatencyRounds = res[0][0], res[0][1]
	out.StreamThroughput = medianPhase(res[0][0], phasePerSec)
	out.StreamLatency = medianPhase(res[0][1], phaseP99)
	if peer == nil {
		return out, nil, nil
	}
	return out, res[1], nil
}

// cassnetStream runs messaging phases through the streaming protocol:
// one connection publishing on pubAddr without waiting for each
// acknowledgement, one subscribed on subAddr, a fresh topic each phase.
type cassnetStream struct {
	pubAddr, subAddr string
	pids             []int
	token, tenant    string
	d                time.Duration
}

func (s *cassnetStream) dial(ctx context.Context, addr string) (*streamclient.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return streamclient.Dial(dctx, streamclient.Config{URL: "http://" + addr, Tenant: s.tenant, Credential: s.token})
}

func (s *cassnetStream) phase(ctx context.Context, rate, round int) (MsgPhase, error) {
	topic := fmt.Sprintf("bench-stream-%d-%d", rate, round)
	sc, err := s.dial(ctx, s.subAddr)
	if err != nil {
		return MsgPhase{}, err
	}
	defer sc.Close()
	sub, err := sc.Subscribe(ctx, topic, "", 2*msgWindow)
	if err != nil {
		return MsgPhase{}, err
	}
	pc, err := s.dial(ctx, s.pubAddr)
	if err != nil {
		return MsgPhase{}, err
	}
	defer pc.Close()
	pub := newStreamPub(pc, topic)
	run := &msgRun{}
	pub.run = run
	res := runMsgPhase(ctx, []msgPub{pub}, streamSub{sub}, s.d, rate, true, s.pids)
	pub.close()
	for k, v := range run.errors {
		if res.Errors == nil {
			res.Errors = map[string]int{}
		}
		res.Errors["ack "+k] += v
	}
	return res, nil
}

// pubConcurrencyREST is how many HTTP publishers the REST throughput
// phase runs (one request each at a time).
const pubConcurrencyREST = 16

func rateName(rate int) string {
	if rate == 0 {
		return "unpaced"
	}
	return strconv.Itoa(rate) + "/s"
}

// benchVerify measures POST /v1/sessions/verify on one node (addr) with
// load.Clients clients verifying one valid token back to back, each on a
// keep-alive connection of its own (verifyLoad).
func benchVerify(ctx context.Context, cl *Client, addr, tenant string, load LoadConfig) (LoadResult, error) {
	r, err := cl.Do(ctx, http.MethodPost, addr, "/v1/tenants/"+tenant+"/sessions", map[string]any{"player_id": "bench-player"})
	if err != nil {
		return LoadResult{}, err
	}
	if r.Status != http.StatusCreated {
		return LoadResult{}, &StatusError{Status: r.Status, Body: string(r.Body)}
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := r.JSON(&s); err != nil {
		return LoadResult{}, err
	}
	vl, err := newVerifyLoad(addr, cl.Token, s.Token, load.Clients)
	if err != nil {
		return LoadResult{}, err
	}
	defer vl.close()
	return RunLoad(ctx, load, vl.verify)
}
