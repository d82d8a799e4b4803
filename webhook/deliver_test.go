package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/webhook"
)

// receiver is a test endpoint that verifies every signature.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	status atomic.Int32 // answer; 0 = 200
	mu     sync.Mutex
	got    map[string]int // event id -> deliveries
	types  map[string]int
	bad    int
	active atomic.Int32
	peak   atomic.Int32
	block  chan struct{} // if set, each request waits on it
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, got: map[string]int{}, types: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := r.active.Add(1)
	defer r.active.Add(-1)
	for p := r.peak.Load(); n > p && !r.peak.CompareAndSwap(p, n); p = r.peak.Load() {
	}
	if r.block != nil {
		<-r.block
	}
	body, _ := io.ReadAll(req.Body)
	var ev struct {
		ID, Type, Tenant, OccurredAt string `json:"-"`
	}
	var p map[string]any
	err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance)
	if err == nil {
		err = json.Unmarshal(body, &p)
	}
	_ = ev
	r.mu.Lock()
	if err != nil {
		r.bad++
	} else {
		r.got[p["id"].(string)]++
		r.types[p["type"].(string)]++
	}
	r.mu.Unlock()
	if s := r.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		fmt.Fprint(w, "nope\x1b[31m")
	}
}

func (r *receiver) counts() (events, deliveries, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		deliveries += n
	}
	return len(r.got), deliveries, r.bad
}

func createWebhook(s *fsmStore, id, url string, events ...string) {
	s.t.Helper()
	s.must(&cassnetv1.Command{Op: &cassnetv1.Command_CreateWebhook{CreateWebhook: &cassnetv1.CreateWebhook{
		Id: id, Tenant: "acme", Url: url, Events: events, Secret: secret}}})
}

func ban(s *fsmStore, i int) {
	s.t.Helper()
	s.must(&cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
		Id: fmt.Sprintf("ban_%016x", i), Tenant: "acme", PlayerId: fmt.Sprintf("p%d", i), Reason: "aimbot"}}})
}

func start(t testing.TB, s *fsmStore, cfg webhook.Config) *webhook.Deliverer {
	t.Helper()
	cfg.Store, cfg.Webhooks = s, s.d.Webhooks
	if cfg.Guard == nil {
		cfg.Guard = &webhook.Guard{AllowPrivate: true, AllowHTTP: true}
	}
	cfg.Interval = 10 * time.Millisecond
	if cfg.Backoff.Base == 0 {
		cfg.Backoff = webhook.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: 0.2}
	}
	d, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const wh1, wh2 = "wh_0000000000000001", "wh_0000000000000002"

// TestDeliver: every event arrives signed, once, and leaves the outbox
// through the recorded acknowledgement; an unsubscribed type never
// arrives.
func TestDeliver(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	start(t, s, webhook.Config{})
	for i := range 50 {
		ban(s, i)
	}
	s.must(&cassnetv1.Command{Op: &cassnetv1.Command_RevokeBan{RevokeBan: &cassnetv1.RevokeBan{Tenant: "acme", Id: "ban_0000000000000000"}}})
	eventually(t, "50 deliveries acknowledged", func() bool { return s.d.Webhooks.PendingCount("acme", wh1) == 0 && s.index >= 55 }) // 3 setup entries, 51 changes, at least one acknowledgement
	events, deliveries, bad := r.counts()
	if events != 50 || deliveries != 50 || bad != 0 || r.types["ban.revoked"] != 0 {
		t.Fatalf("events %d deliveries %d bad signatures %d types %v", events, deliveries, bad, r.types)
	}
	w, _ := s.d.Webhooks.Webhook("acme", wh1)
	if w.Delivered != 50 || w.Failures != 0 {
		t.Fatalf("%+v", w)
	}
	if n := s.records.Load(); n >= 50 {
		t.Errorf("%d record commands for 50 deliveries: not batched", n)
	}
}

// TestRetryThenDeliver: failures back off and are logged, with the
// receiver's answer cleaned of control characters; the same event id
// comes again until it is delivered.
func TestRetryThenDeliver(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	r.status.Store(500)
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	start(t, s, webhook.Config{})
	ban(s, 1)
	eventually(t, "three failed attempts", func() bool { return len(s.d.Webhooks.Attempts("acme", wh1, 0)) >= 3 })
	r.status.Store(0)
	eventually(t, "delivery", func() bool { return s.d.Webhooks.PendingCount("acme", wh1) == 0 })
	atts := s.d.Webhooks.Attempts("acme", wh1, 0)
	last := atts[0]
	if !last.Delivered || last.Attempt < 4 {
		t.Fatalf("last attempt %+v", last)
	}
	for i, a := range atts[1:] {
		if a.Delivered || a.StatusCode != 500 || !strings.HasPrefix(a.Error, "status 500: nope") || strings.ContainsRune(a.Error, 0x1b) || a.EventID != last.EventID {
			t.Fatalf("attempt %d: %+v", i, a)
		}
		if i > 0 && !atts[i].At.After(a.At.Add(10*time.Millisecond)) {
			t.Errorf("attempts %v and %v without backoff", a.At, atts[i].At)
		}
	}
	if events, deliveries, _ := r.counts(); events != 1 || deliveries != len(atts) {
		t.Fatalf("events %d deliveries %d attempts %d", events, deliveries, len(atts))
	}
}

// TestDisableAfterFailures: a receiver that always fails gets its webhook
// disabled after the policy's failures, with an audit entry and a
// webhook.disabled event for the tenant's other webhook; no request is
// sent to it afterwards.
func TestDisableAfterFailures(t *testing.T) {
	s := newStore(t)
	bad, good := newReceiver(t), newReceiver(t)
	bad.status.Store(503)
	createWebhook(s, wh1, bad.srv.URL+"/hook", "ban.created")
	createWebhook(s, wh2, good.srv.URL+"/hook", "webhook.disabled")
	start(t, s, webhook.Config{DisableFailures: 3, DisableAfter: time.Nanosecond})
	ban(s, 1)
	eventually(t, "disabled", func() bool { w, _ := s.d.Webhooks.Webhook("acme", wh1); return !w.Enabled })
	w, _ := s.d.Webhooks.Webhook("acme", wh1)
	if w.Failures < 3 || !strings.Contains(w.DisabledReason, "failed attempts in a row") {
		t.Fatalf("%+v", w)
	}
	eventually(t, "webhook.disabled delivered", func() bool { good.mu.Lock(); defer good.mu.Unlock(); return good.types["webhook.disabled"] == 1 })
	audited := false
	for _, e := range s.d.Audit.Entries("acme", 0) {
		audited = audited || e.Action == "webhook.disabled"
	}
	if !audited {
		t.Fatal("no audit entry")
	}
	_, before, _ := bad.counts()
	time.Sleep(200 * time.Millisecond)
	if _, after, _ := bad.counts(); after != before {
		t.Fatalf("a disabled webhook got %d more requests", after-before)
	}
	if n := s.d.Webhooks.PendingCount("acme", wh1); n != 1 {
		t.Fatalf("the event was not kept for re-enabling: %d pending", n)
	}
}

// TestExpired: an event still failing after the retry window leaves the
// outbox, counted, and stays redeliverable from the attempt log.
func TestExpired(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	r.status.Store(500)
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	start(t, s, webhook.Config{RetryWindow: time.Nanosecond})
	ban(s, 1)
	eventually(t, "expired", func() bool { w, _ := s.d.Webhooks.Webhook("acme", wh1); return w.Expired == 1 })
	if n := s.d.Webhooks.PendingCount("acme", wh1); n != 0 {
		t.Fatalf("%d pending", n)
	}
	r.status.Store(0)
	ev := s.d.Webhooks.Attempts("acme", wh1, 1)[0].EventID
	s.must(&cassnetv1.Command{Op: &cassnetv1.Command_RedeliverWebhookEvent{RedeliverWebhookEvent: &cassnetv1.RedeliverWebhookEvent{Tenant: "acme", Webhook: wh1, EventId: ev}}})
	eventually(t, "redelivered", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.got[ev] == 2 && s.d.Webhooks.PendingCount("acme", wh1) == 0
	})
}

// TestOnlyLeaderDelivers, and a failed record means the delivery is sent
// again with the same id (at least once).
func TestOnlyLeaderDelivers(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	s.leader.Store(false)
	start(t, s, webhook.Config{})
	ban(s, 1)
	time.Sleep(100 * time.Millisecond)
	if _, n, _ := r.counts(); n != 0 {
		t.Fatalf("a follower delivered %d", n)
	}
	s.failRecords.Store(true)
	s.leader.Store(true)
	eventually(t, "two unrecorded deliveries", func() bool { _, n, _ := r.counts(); return n >= 2 })
	s.failRecords.Store(false)
	eventually(t, "acknowledged", func() bool { return s.d.Webhooks.PendingCount("acme", wh1) == 0 })
	if events, _, bad := r.counts(); events != 1 || bad != 0 {
		t.Fatalf("events %d bad %d", events, bad)
	}
}

// TestConcurrencyBounded: at most Concurrency requests per webhook are in
// flight.
func TestConcurrencyBounded(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	r.block = make(chan struct{})
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	start(t, s, webhook.Config{Concurrency: 2})
	for i := range 10 {
		ban(s, i)
	}
	eventually(t, "two in flight", func() bool { return r.active.Load() == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := r.active.Load(); n != 2 {
		t.Fatalf("%d in flight, want 2", n)
	}
	close(r.block)
	eventually(t, "delivered", func() bool { return s.d.Webhooks.PendingCount("acme", wh1) == 0 })
	if p := r.peak.Load(); p > 2 {
		t.Fatalf("%d requests in flight, want at most 2", p)
	}
}

// TestTimeout: a receiver slower than the timeout is a failed attempt.
func TestTimeout(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	r.block = make(chan struct{})
	t.Cleanup(func() { close(r.block) })
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	start(t, s, webhook.Config{Timeout: 100 * time.Millisecond})
	ban(s, 1)
	eventually(t, "a timeout recorded", func() bool {
		a := s.d.Webhooks.Attempts("acme", wh1, 1)
		return len(a) == 1 && !a[0].Delivered && strings.Contains(a[0].Error, "deadline")
	})
}

// TestSSRFAtDelivery: a stored URL whose host is loopback is refused by
// the deliverer's dial check without the flag.
func TestSSRFAtDelivery(t *testing.T) {
	s := newStore(t)
	r := newReceiver(t)
	createWebhook(s, wh1, strings.Replace(r.srv.URL, "127.0.0.1", "localhost", 1)+"/hook", "ban.created")
	start(t, s, webhook.Config{Guard: &webhook.Guard{AllowHTTP: true}})
	ban(s, 1)
	eventually(t, "a refused attempt", func() bool { return len(s.d.Webhooks.Attempts("acme", wh1, 0)) > 0 })
	a := s.d.Webhooks.Attempts("acme", wh1, 1)[0]
	if a.Delivered || !strings.Contains(a.Error, "refused") || !strings.Contains(a.Error, "loopback") {
		t.Fatalf("%+v", a)
	}
	if _, n, _ := r.counts(); n != 0 {
		t.Fatal("the loopback receiver was reached")
	}
}

// BenchmarkDeliveries measures deliveries per second end to end: ban
// commands into the outbox, signed POSTs to a local receiver, batched
// acknowledgements through the (in-process) log.
func BenchmarkDeliveries(b *testing.B) {
	s := newStore(b)
	r := newReceiver(b)
	createWebhook(s, wh1, r.srv.URL+"/hook", "ban.created")
	for i := range b.N {
		ban(s, i)
	}
	b.ResetTimer()
	start(b, s, webhook.Config{Concurrency: 16})
	eventually(b, "all delivered", func() bool { return s.d.Webhooks.PendingCount("acme", wh1) == 0 })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
