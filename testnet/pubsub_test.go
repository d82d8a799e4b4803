package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/streamclient"
)

// next returns the next event other than heartbeats, or fails.
func (s *sseStream) next(t testing.TB, timeout time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no event within %s", timeout)
	}
	return sseEvent{}
}

// nextMessages reads n events that must be messages with consecutive
// sequence numbers from first, all from one origin.
func (s *sseStream) nextMessages(t *testing.T, n int, first uint64) (last sseEvent) {
	t.Helper()
	origin := ""
	for i := range n {
		ev := s.next(t, 30*time.Second)
		var m sseMsg
		if ev.Event != "message" || json.Unmarshal(ev.Data, &m) != nil {
			t.Fatalf("event %d: %s %s, want a message", i, ev.Event, ev.Data)
		}
		if want := first + uint64(i); m.Seq != want || (origin != "" && m.Origin != origin) {
			t.Fatalf("event %d: seq %d from %s, want %d from %s", i, m.Seq, m.Origin, want, origin)
		}
		if m.Payload != fmt.Sprintf("msg-%d", m.Seq) {
			t.Fatalf("seq %d carries %q", m.Seq, m.Payload)
		}
		origin, last = m.Origin, ev
	}
	return last
}

// publish posts one raw message and returns the status and body.
func publish(ctx context.Context, hc *http.Client, addr, cred, tenant, topic, ct string, payload []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+addr+"/v1/tenants/"+tenant+"/topics/"+topic+"/messages", bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", ct)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// publishSeq publishes msg-<seq> for seq in from..to and checks each
// answer's sequence number.
func publishSeq(t *testing.T, ctx context.Context, hc *http.Client, n *Node, cred string, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		code, body, err := publish(ctx, hc, n.HTTPAddr(), cred, "acme", "match", "text/plain", fmt.Appendf(nil, "msg-%d", seq))
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("publish %d: %d %s %v", seq, code, body, err)
		}
		var res struct{ Seq uint64 }
		if err := json.Unmarshal(body, &res); err != nil || res.Seq != seq {
			t.Fatalf("publish %d answered %s", seq, body)
		}
	}
}

// waitPubSubMesh waits until every node has a libp2p connection to every
// other node, and the tenant is in every node's replica.
func waitPubSubMesh(t testing.TB, ctx context.Context, cl *Client, nodes []*Node, tenant string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := WaitFor(wctx, func() error {
		for _, nd := range nodes {
			resp, err := cl.Do(wctx, http.MethodGet, nd.HTTPAddr(), "/v1/pubsub/peers", nil)
			if err != nil {
				return err
			}
			var body struct {
				Peers []struct {
					Member    string `json:"member"`
					Connected bool   `json:"connected"`
				} `json:"peers"`
			}
			if err := resp.JSON(&body); err != nil {
				return err
			}
			connected := 0
			for _, p := range body.Peers {
				if p.Connected && p.Member != "" {
					connected++
				}
			}
			if connected != len(nodes)-1 {
				return fmt.Errorf("%s has %d member peers connected: %s", nd.Name, connected, resp.Body)
			}
			if resp, err := cl.Do(wctx, http.MethodGet, nd.HTTPAddr(), "/v1/tenants/"+tenant+"?stale", nil); err != nil || resp.Status != http.StatusOK {
				return fmt.Errorf("%s does not have tenant %s yet", nd.Name, tenant)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("pubsub mesh did not form: %v", err)
	}
}

// TestPubSubAcrossNodes: in order across nodes, resume on another node
// with exactly the missed messages, 413, and tenant isolation with keys.
func TestPubSubAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	token := c.AdminToken()
	for _, tn := range []string{"acme", "bravo"} {
		if resp, err := cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": tn}); err != nil || resp.Status != http.StatusCreated {
			t.Fatalf("create tenant %s: %v %v", tn, resp, err)
		}
	}
	waitPubSubMesh(t, ctx, cl, nodes, "bravo")
	hc := &http.Client{Timeout: 15 * time.Second}
	const path = "/v1/tenants/acme/topics/match/events"

	// 1,000 messages published on node 3 reach a subscriber on node 1 in order.
	sub, err := openSSE(ctx, nodes[0].HTTPAddr(), token, path, "")
	if err != nil {
		t.Fatal(err)
	}
	publishSeq(t, ctx, hc, nodes[2], token, 1, 1000)
	last := sub.nextMessages(t, 1000, 1)
	sub.close()

	// 100 more while it is away; it resumes on node 2 and gets exactly those.
	publishSeq(t, ctx, hc, nodes[2], token, 1001, 1100)
	sub, err = openSSE(ctx, nodes[1].HTTPAddr(), token, path, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.close()
	sub.nextMessages(t, 100, 1001)
	publishSeq(t, ctx, hc, nodes[2], token, 1101, 1101) // no duplicate before it
	sub.nextMessages(t, 1, 1101)

	// Oversized messages are refused with 413.
	if code, body, _ := publish(ctx, hc, nodes[1].HTTPAddr(), token, "acme", "match", "text/plain", make([]byte, 64<<10+1)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized publish: %d %s", code, body)
	}

	// A key of tenant B can neither publish to nor subscribe to tenant A.
	resp, err := cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants/bravo/keys", map[string]string{"name": "b", "role": "tenant-admin"})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create key: %v %v", resp, err)
	}
	var key struct{ Key string }
	if err := resp.JSON(&key); err != nil || key.Key == "" {
		t.Fatalf("key answer %s: %v", resp.Body, err)
	}
	// (The key replicates to node 2 shortly after node 1 answered.)
	err = WaitFor(ctx, func() error {
		if code, body, _ := publish(ctx, hc, nodes[1].HTTPAddr(), key.Key, "acme", "match", "text/plain", []byte("intruder")); code != http.StatusNotFound {
			return fmt.Errorf("tenant B key publishing to A: %d %s", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSSE(ctx, nodes[1].HTTPAddr(), key.Key, path, ""); err == nil || !strings.Contains(err.Error(), ": 404 ") {
		t.Fatalf("tenant B key subscribing to A: %v", err)
	}
	if code, body, _ := publish(ctx, hc, nodes[1].HTTPAddr(), key.Key, "bravo", "match", "text/plain", []byte("own")); code != http.StatusAccepted {
		t.Fatalf("tenant B key publishing to B: %d %s", code, body)
	}
	// Nothing from B reached A's subscriber.
	publishSeq(t, ctx, hc, nodes[2], token, 1102, 1102)
	sub.nextMessages(t, 1, 1102)
}

// TestPubSubStreamAndBatch: the streaming protocol and the batch publish
// endpoint across real agents: 500 messages published through a stream
// on node 3 reach a stream subscriber on node 1 in order (with a window
// smaller than the burst, so flow control is exercised); 50 more are
// published in one batch request while it is away, and it resumes on
// node 2 with its last event id and gets exactly those.
func TestPubSubStreamAndBatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	token := c.AdminToken()
	if resp, err := cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": "acme"}); err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create tenant: %v %v", resp, err)
	}
	waitPubSubMesh(t, ctx, cl, nodes, "acme")
	dial := func(n *Node, cred string) (*streamclient.Conn, error) {
		return streamclient.Dial(ctx, streamclient.Config{URL: "http://" + n.HTTPAddr(), Tenant: "acme", Credential: cred})
	}
	subConn, err := dial(nodes[0], token)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := subConn.Subscribe(ctx, "live", "", 16)
	if err != nil {
		t.Fatal(err)
	}
	pubConn, err := dial(nodes[2], token)
	if err != nil {
		t.Fatal(err)
	}
	defer pubConn.Close()
	var pend []*streamclient.Pending
	for i := 1; i <= 500; i++ {
		pend = append(pend, pubConn.PublishAsync(ctx, "live", "text/plain", fmt.Appendf(nil, "msg-%d", i)))
	}
	for i, p := range pend {
		if res, err := p.Wait(ctx); err != nil || res.Seq != uint64(i+1) {
			t.Fatalf("publish %d: %+v %v", i+1, res, err)
		}
	}
	nextStream := func(s *streamclient.Subscription, from, to uint64) {
		t.Helper()
		for seq := from; seq <= to; seq++ {
			ev, err := s.Next(ctx)
			if err != nil || ev.Kind != "message" || ev.Seq != seq || string(ev.Payload) != fmt.Sprintf("msg-%d", seq) {
				t.Fatalf("want message %d, got %+v %v", seq, ev, err)
			}
		}
	}
	nextStream(sub, 1, 500)
	last := sub.LastEventID()
	subConn.Close()

	var batch struct {
		Messages []map[string]string `json:"messages"`
	}
	for i := 501; i <= 550; i++ {
		batch.Messages = append(batch.Messages, map[string]string{"payload": fmt.Sprintf("msg-%d", i), "content_type": "text/plain"})
	}
	resp, err := cl.Do(ctx, http.MethodPost, nodes[2].HTTPAddr(), "/v1/tenants/acme/topics/live/batch", batch)
	if err != nil || resp.Status != http.StatusAccepted {
		t.Fatalf("batch publish: %v %v", resp, err)
	}
	resumed, err := dial(nodes[1], token)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	sub2, err := resumed.Subscribe(ctx, "live", last, 0)
	if err != nil {
		t.Fatal(err)
	}
	nextStream(sub2, 501, 550)
	if _, err := pubConn.Publish(ctx, "live", "text/plain", []byte("msg-551")); err != nil {
		t.Fatal(err)
	}
	nextStream(sub2, 551, 551) // and no duplicate before it

	// A key of another tenant cannot open tenant A's stream.
	if resp, err := cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": "bravo"}); err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create tenant: %v %v", resp, err)
	}
	resp, err = cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants/bravo/keys", map[string]string{"name": "b", "role": "tenant-admin"})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create key: %v %v", resp, err)
	}
	var key struct{ Key string }
	if err := resp.JSON(&key); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(nodes[0], key.Key); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("tenant B key on tenant A's stream: %v", err)
	}
}
