package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/state/identity"
)

// fakeTopics is an in-memory Topics: one log per tenant/topic. A stream
// replays the log after its last event id and then ends, so handlers
// under test return.
type fakeTopics struct {
	max int
	mu  sync.Mutex
	log map[string][]TopicEvent
}

func newFakeTopics(max int) *fakeTopics {
	return &fakeTopics{max: max, log: map[string][]TopicEvent{}}
}

func (f *fakeTopics) Publish(_ context.Context, tenant, topic, ct string, payload []byte) (PublishedMessage, error) {
	if strings.ToLower(topic) != topic {
		return PublishedMessage{}, fmt.Errorf("%w: topic: must match ^[a-z0-9][a-z0-9._-]*$", ErrTopicInvalid)
	}
	if len(payload) > f.max {
		return PublishedMessage{}, ErrTopicTooLarge
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := tenant + "/" + topic
	seq := uint64(len(f.log[key]) + 1)
	f.log[key] = append(f.log[key], TopicEvent{Kind: "message", ID: strconv.FormatUint(seq, 10),
		Origin: "node-a", Epoch: "00000000000000ab", Seq: seq, Published: time.Unix(1700000000, 0),
		ContentType: ct, Payload: payload})
	return PublishedMessage{ID: "node-a:00000000000000ab:" + strconv.FormatUint(seq, 10), Seq: seq, Origin: "node-a", Epoch: "00000000000000ab"}, nil
}

func (f *fakeTopics) Subscribe(_ context.Context, tenant, topic, last string) (TopicStream, error) {
	from := 0
	if last != "" {
		n, err := strconv.Atoi(last)
		if err != nil {
			return nil, fmt.Errorf("%w: Last-Event-ID: unknown format", ErrTopicInvalid)
		}
		from = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.log[tenant+"/"+topic]
	return &fakeStream{evs: append([]TopicEvent(nil), evs[min(from, len(evs)):]...)}, nil
}

func (f *fakeTopics) Peers() []TopicPeer {
	return []TopicPeer{{PeerID: "12D3KooWfake", Addrs: []string{"/ip4/10.0.0.2/tcp/7948"}, Member: "b", NodeID: "node-b", MemberStatus: "alive", Connected: true}}
}

func (f *fakeTopics) MaxMessageSize() int { return f.max }

type fakeStream struct {
	evs    []TopicEvent
	closed bool
}

func (s *fakeStream) Next(context.Context) (TopicEvent, error) {
	if len(s.evs) == 0 {
		return TopicEvent{}, errors.New("fake stream ended")
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func (s *fakeStream) Ready() bool { return true }
func (s *fakeStream) Close()      { s.closed = true }

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, event, data string }

func parseSSE(t *testing.T, body string) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		default:
			t.Fatalf("unexpected SSE line %q", line)
		}
	}
	return out
}

func publishRaw(h *harness, cred, path, ct, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cred)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

func TestPublishAndSubscribe(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	path := "/v1/tenants/acme/topics/match.1/messages"
	rec := publishRaw(h, h.token, path, "text/plain", "hello")
	if rec.Code != http.StatusAccepted {
		t.Fatalf("publish: %d %s", rec.Code, rec.Body)
	}
	res := decodeBody[PublishedMessage](t, rec)
	if res.Seq != 1 || res.Origin != "node-a" || res.ID == "" {
		t.Fatalf("publish answer %+v", res)
	}
	publishRaw(h, h.token, path, "application/octet-stream", "\xff\x00")

	rec = h.do("GET", "/v1/tenants/acme/topics/match.1/events", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	evs := parseSSE(t, rec.Body.String())
	if len(evs) != 3 {
		t.Fatalf("events: %+v", evs)
	}
	if evs[0].id != "1" || evs[0].event != "message" || !strings.Contains(evs[0].data, `"payload":"hello"`) ||
		!strings.Contains(evs[0].data, `"content_type":"text/plain"`) || !strings.Contains(evs[0].data, `"msg_id":"node-a:00000000000000ab:1"`) {
		t.Fatalf("first event %+v", evs[0])
	}
	if !strings.Contains(evs[1].data, `"payload_base64":"/wA="`) {
		t.Fatalf("binary payload not base64: %+v", evs[1])
	}
	if evs[2].event != "disconnect" || evs[2].id != "" || !strings.Contains(evs[2].data, "fake stream ended") {
		t.Fatalf("end of stream %+v", evs[2])
	}

	// Resume after event 1, with the header and with the query parameter.
	req := httptest.NewRequest("GET", "/v1/tenants/acme/topics/match.1/events", nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Last-Event-ID", "1")
	rec = httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if evs := parseSSE(t, rec.Body.String()); len(evs) != 2 || evs[0].id != "2" {
		t.Fatalf("resume by header: %+v", evs)
	}
	rec = h.do("GET", "/v1/tenants/acme/topics/match.1/events?last_event_id=2", "")
	if evs := parseSSE(t, rec.Body.String()); len(evs) != 1 || evs[0].event != "disconnect" {
		t.Fatalf("resume by query: %+v", evs)
	}
}

func TestPublishErrors(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"too large", "/v1/tenants/acme/topics/chat/messages", strings.Repeat("x", 16<<10+1), http.StatusRequestEntityTooLarge},
		{"bad topic", "/v1/tenants/acme/topics/Chat/messages", "x", http.StatusBadRequest},
		{"no tenant", "/v1/tenants/ghost/topics/chat/messages", "x", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := publishRaw(h, h.token, tt.path, "text/plain", tt.body)
			if rec.Code != tt.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.want)
			}
		})
	}
	if rec := h.do("GET", "/v1/tenants/acme/topics/chat/events?last_event_id=x", ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad event id: %d %s", rec.Code, rec.Body)
	}
}

func TestTopicsNotConfigured(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Topics = nil })
	h.createTenant("acme")
	for _, tc := range []struct{ method, path string }{
		{"POST", "/v1/tenants/acme/topics/chat/messages"},
		{"GET", "/v1/tenants/acme/topics/chat/events"},
		{"GET", "/v1/pubsub/peers"},
	} {
		if rec := h.do(tc.method, tc.path, ""); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d", tc.method, tc.path, rec.Code)
		}
	}
}

// TestTopicTenantIsolation: a key of tenant B can neither publish to nor
// subscribe to tenant A's topics, and learns nothing about them; A's
// game-server key can do both; A's read-only key can do neither.
func TestTopicTenantIsolation(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createTenant("bravo")
	gsA, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	roA, _ := h.newKey("acme", identity.RoleReadOnly, "", 0)
	adminB, _ := h.newKey("bravo", identity.RoleTenantAdmin, "", 0)
	pub := "/v1/tenants/acme/topics/chat/messages"
	sub := "/v1/tenants/acme/topics/chat/events"
	if rec := publishRaw(h, gsA, pub, "text/plain", "from A"); rec.Code != http.StatusAccepted {
		t.Fatalf("A's game server publishing: %d %s", rec.Code, rec.Body)
	}
	if rec := h.doAs(gsA, "GET", sub, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "from A") {
		t.Fatalf("A's game server subscribing: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		who, cred string
		want      int
	}{{"tenant-admin B", adminB, http.StatusNotFound}, {"read-only A", roA, http.StatusForbidden}} {
		if rec := publishRaw(h, tc.cred, pub, "text/plain", "intruder"); rec.Code != tc.want {
			t.Errorf("%s publishing to A: %d %s", tc.who, rec.Code, rec.Body)
		}
		rec := h.doAs(tc.cred, "GET", sub, "")
		if rec.Code != tc.want || strings.Contains(rec.Body.String(), "from A") {
			t.Errorf("%s subscribing to A: %d %s", tc.who, rec.Code, rec.Body)
		}
	}
	// Nothing B sent reached A's topic.
	if rec := h.doAs(gsA, "GET", sub, ""); strings.Contains(rec.Body.String(), "intruder") {
		t.Fatalf("B's message reached A: %s", rec.Body)
	}
}

func TestPubSubPeers(t *testing.T) {
	h := newHarness(t)
	rec := h.mustDo("GET", "/v1/pubsub/peers", "", http.StatusOK)
	body := decodeBody[struct {
		Peers []TopicPeer `json:"peers"`
	}](t, rec)
	if len(body.Peers) != 1 || body.Peers[0].Member != "b" || !body.Peers[0].Connected {
		t.Fatalf("peers %+v", body)
	}
}
