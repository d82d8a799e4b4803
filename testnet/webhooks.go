package testnet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/webhook"
)

// The webhook workload's half that lives outside the cluster: a receiver
// that verifies every delivery's signature and records it, and the checker
// that judges what arrived against the bans that were acknowledged
// (docs/webhooks.md, docs/testnet.md).

// WebhookDelivery is one request the receiver got.
type WebhookDelivery struct {
	ID, Type, Tenant string
	Data             map[string]string
	// Body is the raw body; SignatureOK whether its X-Cass-Signature
	// verified under the webhook's secret.
	Body        []byte
	SignatureOK bool
	At          time.Time
}

// WebhookReceiver is an HTTP endpoint that records deliveries. It answers
// 200 unless FailNext is set.
type WebhookReceiver struct {
	secret string
	srv    *http.Server
	ln     net.Listener

	mu    sync.Mutex
	got   []WebhookDelivery
	fails int
}

// NewWebhookReceiver listens on addr (host:port, port 0 for a free one).
func NewWebhookReceiver(addr string) (*WebhookReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &WebhookReceiver{ln: ln}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is the receiver's webhook URL.
func (r *WebhookReceiver) URL() string { return "http://" + r.ln.Addr().String() + "/hook" }

// SetSecret sets the secret signatures are verified with (the create
// response's).
func (r *WebhookReceiver) SetSecret(s string) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

// FailNext makes the next n requests answer 503.
func (r *WebhookReceiver) FailNext(n int) {
	r.mu.Lock()
	r.fails = n
	r.mu.Unlock()
}

// Close stops the receiver.
func (r *WebhookReceiver) Close() error { return r.srv.Close() }

// ServeHTTP implements http.Handler.
func (r *WebhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var p struct {
		ID     string            `json:"id"`
		Type   string            `json:"type"`
		Tenant string            `json:"tenant"`
		Data   map[string]string `json:"data"`
	}
	_ = json.Unmarshal(body, &p)
	r.mu.Lock()
	ok := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance) == nil
	r.got = append(r.got, WebhookDelivery{ID: p.ID, Type: p.Type, Tenant: p.Tenant, Data: p.Data, Body: body, SignatureOK: ok, At: time.Now()})
	fail := r.fails > 0
	if fail {
		r.fails--
	}
	r.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// Deliveries returns what arrived so far, in arrival order.
func (r *WebhookReceiver) Deliveries() []WebhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// WebhookHistory is what the webhook checker judges.
type WebhookHistory struct {
	// Subscribed are the webhook's event types.
	Subscribed []string
	// Acknowledged are the ban ids whose creation was answered 201;
	// Uncertain the players whose creation may or may not have happened
	// (a time-out, a 5xx): a ban of theirs may arrive or not.
	Acknowledged []string
	Uncertain    []string
	Deliveries   []WebhookDelivery
}

// CheckWebhooks judges a history: every delivery is signed; every event
// type was subscribed; every acknowledged ban produced exactly one
// distinct event id (ban.created), delivered at least once; deliveries
// sharing an id are retries (the same body); no event names a ban that
// was neither acknowledged nor uncertain.
func CheckWebhooks(h WebhookHistory) Result {
	res := Result{Checker: "webhooks", Verdict: Pass}
	fail := func(format string, args ...any) {
		res.Verdict = Fail
		if len(res.Details) < 20 {
			res.Details = append(res.Details, fmt.Sprintf(format, args...))
		}
	}
	acked := map[string]bool{}
	for _, id := range h.Acknowledged {
		acked[id] = true
	}
	uncertain := map[string]bool{}
	for _, p := range h.Uncertain {
		uncertain[p] = true
	}
	bodies := map[string][]byte{}        // event id -> first body
	eventsOfBan := map[string][]string{} // ban id -> distinct event ids
	dups := 0
	for _, d := range h.Deliveries {
		if !d.SignatureOK {
			fail("delivery of %s: signature does not verify", d.ID)
		}
		if !slices.Contains(h.Subscribed, d.Type) {
			fail("delivery of %s: type %q was not subscribed", d.ID, d.Type)
		}
		if first, seen := bodies[d.ID]; seen {
			dups++
			if !bytes.Equal(first, d.Body) {
				fail("event %s delivered twice with different bodies: a duplicate that is not a retry", d.ID)
			}
			continue
		}
		bodies[d.ID] = d.Body
		if d.Type != "ban.created" {
			continue
		}
		ban := d.Data["ban_id"]
		eventsOfBan[ban] = append(eventsOfBan[ban], d.ID)
		if !acked[ban] && !uncertain[d.Data["player_id"]] {
			fail("event %s names ban %s of player %s, which was never written", d.ID, ban, d.Data["player_id"])
		}
	}
	missing := 0
	for _, id := range h.Acknowledged {
		switch evs := eventsOfBan[id]; {
		case len(evs) == 0:
			missing++
			if missing <= 5 {
				fail("acknowledged ban %s: no event delivered", id)
			}
		case len(evs) > 1:
			fail("ban %s produced %d distinct events %v", id, len(evs), evs)
		}
	}
	if missing > 5 {
		fail("... %d acknowledged bans without an event in all", missing)
	}
	res.Summary = fmt.Sprintf("%d acknowledged bans, %d uncertain, %d deliveries of %d events (%d retries)",
		len(h.Acknowledged), len(h.Uncertain), len(h.Deliveries), len(bodies), dups)
	if len(h.Acknowledged) == 0 {
		res.Verdict = NotApplicable
	}
	return res
}
