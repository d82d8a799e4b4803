package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/streamclient"
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
