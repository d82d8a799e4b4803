package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	RESTThroughput   MsgPhase `json:"rest_throughput"`
	RESTLatency      MsgPhase `json:"rest_latency"`
	StreamThroughput MsgPhase `json:"stream_throughput"`
	StreamLatency    MsgPhase `json:"stream_latency"`
}

// benchCassnetMessaging runs the four cassnet messaging phases on a
// running cluster: publishing on the last node, subscribing on the first.
func benchCassnetMessaging(ctx context.Context, progress io.Writer, addrs []string, pids []int, token, tenant string, d time.Duration) (CassnetMsg, error) {
	var out CassnetMsg
	pubAddr, subAddr := addrs[len(addrs)-1], addrs[0]
	hc := NewLoadHTTPClient(pubConcurrencyREST)
	defer hc.CloseIdleConnections()
	for i, rate := range []int{0, msgLatencyRate} {
		topic := fmt.Sprintf("bench-rest-%d", i)
		sse, err := openSSE(ctx, subAddr, token, "/v1/tenants/"+tenant+"/topics/"+topic+"/events", "")
		if err != nil {
			return out, fmt.Errorf("subscribe: %w", err)
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
	dial := func(addr string) (*streamclient.Conn, error) {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return streamclient.Dial(dctx, streamclient.Config{URL: "http://" + addr, Tenant: tenant, Credential: token})
	}
	for i, rate := range []int{0, msgLatencyRate} {
		topic := fmt.Sprintf("bench-stream-%d", i)
		sc, err := dial(subAddr)
		if err != nil {
			return out, err
		}
		sub, err := sc.Subscribe(ctx, topic, "", 2*msgWindow)
		if err != nil {
			sc.Close()
			return out, err
		}
		pc, err := dial(pubAddr)
		if err != nil {
			sc.Close()
			return out, err
		}
		fmt.Fprintf(progress, "bench: messaging through the streaming protocol, rate %s\n", rateName(rate))
		pub := newStreamPub(pc, topic)
		run := &msgRun{}
		pub.run = run
		res := runMsgPhase(ctx, []msgPub{pub}, streamSub{sub}, d, rate, true, pids)
		pub.close()
		for k, v := range run.errors {
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			res.Errors["ack "+k] += v
		}
		pc.Close()
		sc.Close()
		if rate == 0 {
			out.StreamThroughput = res
		} else {
			out.StreamLatency = res
		}
	}
	return out, nil
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
