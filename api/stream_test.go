package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/streamclient"
	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"
)

func TestPublishBatch(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	path := "/v1/tenants/acme/topics/chat/batch"
	rec := h.mustDo("POST", path, `{"messages":[{"payload":"a","content_type":"text/plain"},{"payload_base64":"/wA="}]}`, http.StatusAccepted)
	res := decodeBody[batchResponse](t, rec)
	if len(res.Messages) != 2 || res.Messages[0].Seq != 1 || res.Messages[1].Seq != 2 {
		t.Fatalf("batch answer %+v", res)
	}
	evs := parseSSE(t, h.do("GET", "/v1/tenants/acme/topics/chat/events", "").Body.String())
	if len(evs) != 3 || !strings.Contains(evs[0].data, `"payload":"a"`) || !strings.Contains(evs[1].data, `"payload_base64":"/wA="`) {
		t.Fatalf("events %+v", evs)
	}
	for _, tt := range []struct {
		name, body string
		status     int
	}{
		{"empty", `{"messages":[]}`, http.StatusBadRequest},
		{"both payloads", `{"messages":[{"payload":"a","payload_base64":"YQ=="}]}`, http.StatusBadRequest},
		{"bad base64", `{"messages":[{"payload_base64":"!"}]}`, http.StatusBadRequest},
		{"too large", `{"messages":[{"payload":"` + strings.Repeat("x", 16<<10+1) + `"}]}`, http.StatusRequestEntityTooLarge},
		{"unknown field", `{"messages":[{"data":"a"}]}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if rec := h.do("POST", path, tt.body); rec.Code != tt.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
		})
	}
}

// TestPublishBatchRateLimited: a batch draws one publish token a message.
func TestPublishBatchRateLimited(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RateLimits.Publish = &RateLimits{OperatorRate: 0.001, OperatorBurst: 3}
	})
	h.createTenant("acme")
	body := `{"messages":[{"payload":"a"},{"payload":"b"}]}`
	h.mustDo("POST", "/v1/tenants/acme/topics/chat/batch", body, http.StatusAccepted)
	rec := h.do("POST", "/v1/tenants/acme/topics/chat/batch", body)
	wantError(t, rec, http.StatusTooManyRequests, codeRateLimited)
}

func dialStream(t *testing.T, h *harness, cred string) (*streamclient.Conn, error) {
	t.Helper()
	srv := httptest.NewServer(h.h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := streamclient.Dial(ctx, streamclient.Config{URL: srv.URL, Tenant: "acme", Credential: cred})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestStreamPublishSubscribeResume(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	c, err := dialStream(t, h, h.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var pend []*streamclient.Pending
	for _, p := range []string{"one", "two", "three"} {
		pend = append(pend, c.PublishAsync(ctx, "chat", "text/plain", []byte(p)))
	}
	for i, p := range pend {
		res, err := p.Wait(ctx)
		if err != nil || res.Seq != uint64(i+1) || res.Origin != "node-a" {
			t.Fatalf("publish %d: %+v %v", i, res, err)
		}
	}
	var se *streamclient.Error
	if _, err := c.Publish(ctx, "chat", "", make([]byte, 16<<10+1)); !errors.As(err, &se) || se.Code != codePayloadTooLarge {
		t.Fatalf("oversized publish: %v", err)
	}
	if _, err := c.Publish(ctx, "Chat", "", []byte("x")); !errors.As(err, &se) || se.Code != "invalid_argument" {
		t.Fatalf("bad topic: %v", err)
	}
	sub, err := c.Subscribe(ctx, "chat", "", 2) // a window smaller than the replay
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"one", "two", "three"} {
		ev, err := sub.Next(ctx)
		if err != nil || ev.Kind != "message" || string(ev.Payload) != want || ev.ContentType != "text/plain" {
			t.Fatalf("event %d: %+v %v", i, ev, err)
		}
	}
	// The fake stream ends after its replay: the node ends the subscription.
	if _, err := sub.Next(ctx); !errors.Is(err, streamclient.ErrEnded) {
		t.Fatalf("after the replay: %v, want ErrEnded", err)
	}
	// Resume after event 1.
	sub2, err := c.Subscribe(ctx, "chat", "1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := sub2.Next(ctx); err != nil || ev.Seq != 2 {
		t.Fatalf("resumed: %+v %v", ev, err)
	}
	if _, err := c.Subscribe(ctx, "chat", "not-a-number", 0); !errors.As(err, &se) || se.Code != "invalid_argument" {
		t.Fatalf("bad event id: %v", err)
	}
}

// TestStreamAuth: the upgrade goes through the authorisation layer.
func TestStreamAuth(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	if _, err := dialStream(t, h, ""); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("no credential: %v", err)
	}
	if _, err := dialStream(t, h, "cn_op_bogus"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("bad credential: %v", err)
	}
}

// TestStreamRejectsMalformed: a malformed request closes the connection
// with an error the client sees.
func TestStreamRejectsMalformed(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	c, err := dialStream(t, h, h.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// ref 0 is refused by the node's decoder.
	p := c.PublishAsync(ctx, "chat", "", []byte("x"))
	if _, err := p.Wait(ctx); err != nil {
		t.Fatalf("valid publish: %v", err)
	}
	if _, err := decodeStreamRequest(mustMarshal(t, &cassnetv1.StreamRequest{Commands: []*cassnetv1.StreamCommand{
		{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{Topic: "chat"}}}}}), 100); !errors.Is(err, errStreamDecode) {
		t.Fatalf("publish without ref: %v", err)
	}
}

// dialRawStream opens a stream WebSocket offering protocols, without
// streamclient; the test's cleanup closes it.
func dialRawStream(t *testing.T, url, token string, protocols []string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols}
	ws, _, err := d.DialContext(t.Context(), url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecodeStreamRequest feeds the node's decoder of client WebSocket
// messages arbitrary bytes, as a hostile client would.
func FuzzDecodeStreamRequest(f *testing.F) {
	b, _ := proto.Marshal(&cassnetv1.StreamRequest{Commands: []*cassnetv1.StreamCommand{
		{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{Ref: 1, Topic: "chat", Payload: []byte("x")}}},
		{Command: &cassnetv1.StreamCommand_Subscribe{Subscribe: &cassnetv1.StreamSubscribe{Sub: 1, Topic: "chat", Window: 8}}},
		{Command: &cassnetv1.StreamCommand_Ack{Ack: &cassnetv1.StreamAck{Sub: 1, Count: 4}}},
		{Command: &cassnetv1.StreamCommand_Unsubscribe{Unsubscribe: &cassnetv1.StreamUnsubscribe{Sub: 1}}},
	}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeStreamRequest(b, 1024)
		if err != nil {
			return
		}
		if len(req.GetCommands()) > maxStreamCommands {
			t.Fatal("accepted too many commands")
		}
		for _, c := range req.GetCommands() {
			if checkStreamCommand(c, 1024) != nil {
				t.Fatalf("accepted a bad command: %v", c)
			}
			if p := c.GetPublish(); p != nil && p.GetRef() == 0 {
				t.Fatalf("accepted a bad publish: %v", p)
			}
		}
	})
}

// TestDecodeStreamRequestOwnsPayloads holds decodeStreamRequest to what
// publish relies on when it marks payloads Owned: each payload is capped
// at its length, so that appending to one never writes over another or
// over the rest of the request.
func TestDecodeStreamRequestOwnsPayloads(t *testing.T) {
	req := &cassnetv1.StreamRequest{}
	for i := range 3 {
		req.Commands = append(req.Commands, &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{
			Publish: &cassnetv1.StreamPublish{Ref: uint64(i + 1), Topic: "t", Payload: []byte{byte('a' + i), 'x'}}}})
	}
	b := mustMarshal(t, req)
	got, err := decodeStreamRequest(b, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got.GetCommands() {
		p := c.GetPublish().GetPayload()
		if cap(p) != len(p) {
			t.Fatalf("payload %d: cap %d > len %d: an append would write over the request", i, cap(p), len(p))
		}
		_ = append(p, 'z', 'z', 'z')
	}
	for i, c := range got.GetCommands() {
		if p := c.GetPublish().GetPayload(); string(p) != string([]byte{byte('a' + i), 'x'}) {
			t.Fatalf("payload %d = %q after appends to the others", i, p)
		}
	}
}

// TestStreamRangeAcks: a client that negotiates streamProtocolV2 gets one
// acknowledgement per run of consecutive refs; one that does not gets
// one per publish, as before.
func TestStreamRangeAcks(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	srv := httptest.NewServer(h.h)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/tenants/acme/stream"
	pub := func(ref uint64) *cassnetv1.StreamCommand {
		return &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{
			Ref: ref, Topic: "chat", Payload: []byte("x")}}}
	}
	for _, tt := range []struct {
		name      string
		protocols []string
		want      []string // ref/count/seq of each acknowledgement
	}{
		{"v1", nil, []string{"1/0/1", "2/0/2", "3/0/3", "7/0/4"}},
		{"v2", []string{streamProtocolV2}, []string{"1/3/5", "7/0/8"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := dialRawStream(t, url, h.token, tt.protocols)
			req := &cassnetv1.StreamRequest{Commands: []*cassnetv1.StreamCommand{pub(1), pub(2), pub(3), pub(7)}}
			if err := ws.WriteMessage(websocket.BinaryMessage, mustMarshal(t, req)); err != nil {
				t.Fatal(err)
			}
			var got []string
			covered := 0
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for covered < 4 {
				_, b, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				var resp cassnetv1.StreamResponse
				if err := proto.Unmarshal(b, &resp); err != nil {
					t.Fatal(err)
				}
				for _, r := range resp.GetReplies() {
					p := r.GetPublished()
					if p == nil {
						t.Fatalf("reply %v, want published", r)
					}
					got = append(got, fmt.Sprintf("%d/%d/%d", p.GetRef(), p.GetCount(), p.GetSeq()))
					covered += int(max(p.GetCount(), 1))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("acknowledgements %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStreamClientRangeAcks: streamclient resolves every publish of a
// run acknowledged at once, with the ids the node would give each.
func TestStreamClientRangeAcks(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	c, err := dialStream(t, h, h.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var pend []*streamclient.Pending
	for range 200 { // queued faster than written: runs form
		pend = append(pend, c.PublishAsync(ctx, "chat", "", []byte("x")))
	}
	for i, p := range pend {
		res, err := p.Wait(ctx)
		want := fmt.Sprintf("node-a:00000000000000ab:%d", i+1)
		if err != nil || res.Seq != uint64(i+1) || res.ID != want || res.Epoch != "00000000000000ab" {
			t.Fatalf("publish %d: %+v %v, want id %s", i, res, err, want)
		}
	}
}
