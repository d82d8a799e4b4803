package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/webhooks"
)

// Proposer is the consensus store as the deliverer uses it.
// *consensus.Store implements it; both methods are safe for concurrent
// use.
type Proposer interface {
	// Apply proposes cmd (forwarded to the leader) and returns once it is
	// applied on this node.
	Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error)
	// IsLeader reports whether this node is the Raft leader now.
	IsLeader() bool
}

// Defaults.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultConcurrency     = 4
	DefaultRetryWindow     = 24 * time.Hour
	DefaultDisableAfter    = 24 * time.Hour
	DefaultDisableFailures = 10
	DefaultInterval        = 100 * time.Millisecond
	DefaultMaxBatch        = 256
)

// Config configures a Deliverer. Store, Webhooks and Guard are required.
type Config struct {
	Store    Proposer
	Webhooks *webhooks.Store
	Guard    *Guard
	// Client sends the requests. Default: Guard.Client(Timeout). A
	// replacement must keep the Guard's dial check.
	Client *http.Client
	// Timeout bounds one delivery. Default DefaultTimeout.
	Timeout time.Duration
	// Concurrency bounds the deliveries in flight per webhook. Default
	// DefaultConcurrency.
	Concurrency int
	// Backoff is the retry schedule. Default DefaultBackoff.
	Backoff Backoff
	// RetryWindow: an event still failing this long after it occurred is
	// given up (it leaves the outbox, counted in the webhook's expired).
	RetryWindow time.Duration
	// A webhook is disabled when it has failed DisableFailures attempts
	// in a row for at least DisableAfter.
	DisableAfter    time.Duration
	DisableFailures uint32
	// Interval is how often the leader looks for due deliveries and
	// flushes attempts. Default DefaultInterval.
	Interval time.Duration
	// MaxBatch bounds the attempts of one RecordWebhookDeliveries.
	MaxBatch int
	// Actor is who the attempts are recorded as ("node:<name>").
	Actor  string
	Logger *slog.Logger
	Now    func() time.Time
}

// Deliverer runs on every node and delivers only while its node leads.
// New starts nothing; Run delivers until its context ends and waits for
// the requests it started.
type Deliverer struct {
	cfg     Config
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	results chan result
	wg      sync.WaitGroup
	// Owned by Run's goroutine:
	inflight map[string]int      // tenant/webhook -> deliveries in flight
	busy     map[string]struct{} // tenant/webhook/seq in flight or awaiting its record
	batch    []result
}

type result struct {
	key, hook string
	attempt   *cassnetv1.WebhookAttempt
	latency   time.Duration
	// aborted: the deliverer was stopping; not an attempt to record.
	aborted bool
}

// New checks cfg.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Store == nil || cfg.Webhooks == nil || cfg.Guard == nil {
		return nil, errors.New("webhook: Config.Store, Webhooks and Guard are required")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	cfg.RetryWindow = cmp.Or(cfg.RetryWindow, DefaultRetryWindow)
	cfg.DisableAfter = cmp.Or(cfg.DisableAfter, DefaultDisableAfter)
	cfg.DisableFailures = cmp.Or(cfg.DisableFailures, DefaultDisableFailures)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, DefaultMaxBatch)
	cfg.Actor = cmp.Or(cfg.Actor, "node:webhooks")
	d := &Deliverer{
		cfg: cfg, client: cfg.Client, log: cfg.Logger, now: cfg.Now,
		results:  make(chan result, 1024),
		inflight: map[string]int{}, busy: map[string]struct{}{},
	}
	if d.client == nil {
		d.client = cfg.Guard.Client(cfg.Timeout)
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.metrics = newMetrics(cfg.Webhooks)
	return d, nil
}

// Run delivers while this node leads, until ctx ends; then it waits for
// the requests in flight and records what they returned, if it can.
func (d *Deliverer) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			done := make(chan struct{})
			go func() { d.wg.Wait(); close(done) }()
			for waiting := true; waiting; {
				select {
				case r := <-d.results:
					d.take(r)
				case <-done:
					waiting = false
				}
			}
			d.drain()
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			d.flush(fctx)
			cancel()
			return
		case r := <-d.results:
			d.take(r)
			d.drain()
			if len(d.batch) >= d.cfg.MaxBatch {
				d.flush(ctx)
			}
			if d.cfg.Store.IsLeader() {
				d.dispatch(ctx) // the freed slots, at once
			}
		case <-t.C:
			d.drain()
			d.flush(ctx)
			if d.cfg.Store.IsLeader() {
				d.dispatch(ctx)
			}
		}
	}
}

func (d *Deliverer) drain() {
	for {
		select {
		case r := <-d.results:
			d.take(r)
		default:
			return
		}
	}
}

func (d *Deliverer) take(r result) {
	d.inflight[r.hook]--
	if d.inflight[r.hook] <= 0 {
		delete(d.inflight, r.hook)
	}
	if r.aborted {
		delete(d.busy, r.key)
		return
	}
	d.batch = append(d.batch, r)
	d.metrics.observe(r.attempt.GetDelivered(), r.latency)
}

func hookKey(tenant, id string) string { return tenant + "/" + id }

// dispatch starts the due deliveries, up to Concurrency per webhook.
func (d *Deliverer) dispatch(ctx context.Context) {
	now := d.now()
	for _, wh := range d.cfg.Webhooks.Webhooks("") {
		if !wh.Enabled {
			continue
		}
		hk := hookKey(wh.Tenant, wh.ID)
		free := d.cfg.Concurrency - d.inflight[hk]
		if free <= 0 {
			continue
		}
		due := d.cfg.Webhooks.Due(wh.Tenant, wh.ID, now, free, func(seq string) bool {
			_, busy := d.busy[hk+"/"+seq]
			return busy
		})
		if len(due) == 0 {
			continue
		}
		secret, ok := d.cfg.Webhooks.SigningSecret(wh.Tenant, wh.ID)
		if !ok {
			continue
		}
		for _, del := range due {
			key := hk + "/" + del.Seq
			d.busy[key] = struct{}{}
			d.inflight[hk]++
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				r := d.send(ctx, wh, secret, del)
				r.key, r.hook = key, hk
				d.results <- r
			}()
		}
	}
}

// payload is a delivery's body.
type payload struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Tenant     string            `json:"tenant"`
	OccurredAt string            `json:"occurred_at"`
	Data       map[string]string `json:"data"`
}

// Body is the JSON body of a delivery of ev.
func Body(ev *webhooks.Event) ([]byte, error) {
	data := ev.Data
	if data == nil {
		data = map[string]string{}
	}
	return json.Marshal(payload{ID: ev.ID, Type: ev.Type, Tenant: ev.Tenant,
		OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano), Data: data})
}

// send makes one attempt.
func (d *Deliverer) send(ctx context.Context, wh webhooks.Webhook, secret string, del webhooks.Delivery) result {
	start := d.now()
	att := &cassnetv1.WebhookAttempt{Tenant: wh.Tenant, Webhook: wh.ID, EventId: del.Event.ID,
		Attempt: del.Attempts + 1, AtUnixNano: start.UnixNano()}
	code, err := d.post(ctx, wh.URL, secret, del.Event, start)
	lat := time.Since(start)
	att.StatusCode, att.LatencyMs = int32(code), uint32(lat.Milliseconds())
	if err == nil {
		att.Delivered = true
		return result{attempt: att, latency: lat}
	}
	if ctx.Err() != nil {
		return result{attempt: att, latency: lat, aborted: true}
	}
	att.Error = clean(err.Error())
	if d.now().Sub(del.Event.OccurredAt) >= d.cfg.RetryWindow {
		att.Expired = true
	} else {
		att.NextAttemptUnixNano = d.now().Add(d.cfg.Backoff.Delay(att.Attempt, jitter())).UnixNano()
	}
	d.log.Debug("webhook delivery failed", "tenant", wh.Tenant, "webhook", wh.ID, "host", hostOf(wh.URL),
		"event", del.Event.ID, "attempt", att.Attempt, "err", att.Error)
	return result{attempt: att, latency: lat}
}

func (d *Deliverer) post(ctx context.Context, target, secret string, ev *webhooks.Event, at time.Time) (int, error) {
	body, err := Body(ev)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("bad url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cassnet-webhook/1")
	req.Header.Set(SignatureHeader, Sign(secret, at, body))
	req.Header.Set("X-Cass-Event-Id", ev.ID)
	req.Header.Set("X-Cass-Event-Type", ev.Type)
	resp, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, whose path may hold a token
		}
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 128))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("status %d: %s", resp.StatusCode, snippet)
	}
	return resp.StatusCode, nil
}

// clean makes an error fit an attempt record: valid UTF-8, no control
// characters, at most MaxErrorLen bytes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	for len(s) > webhooks.MaxErrorLen {
		s = s[:webhooks.MaxErrorLen]
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// flush records the batch in one command, marking the webhooks that the
// policy disables. On failure the attempts are forgotten: the deliveries
// are still pending in the state and are sent again (the receiver sees a
// duplicate with the same id).
func (d *Deliverer) flush(ctx context.Context) {
	if len(d.batch) == 0 {
		return
	}
	batch := d.batch
	d.batch = nil
	atts := make([]*cassnetv1.WebhookAttempt, len(batch))
	streak := map[string]*streakState{}
	for i, r := range batch {
		atts[i] = r.attempt
		d.judge(streak, r)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := &cassnetv1.Command{Version: consensus.CommandVersion, Actor: d.cfg.Actor,
		Op: &cassnetv1.Command_RecordWebhookDeliveries{RecordWebhookDeliveries: &cassnetv1.RecordWebhookDeliveries{Attempts: atts}}}
	if _, err := d.cfg.Store.Apply(ctx, cmd); err != nil {
		d.log.Warn("webhook: recording delivery attempts failed; they will be retried", "attempts", len(atts), "err", err)
	}
	for _, r := range batch {
		delete(d.busy, r.key)
	}
}

type streakState struct {
	failures uint32
	since    time.Time
	disabled bool
}

// judge follows a webhook's failure streak through the batch, in order,
// from the replicated one, and sets a disable reason on the attempt that
// reaches the policy's limit.
func (d *Deliverer) judge(streaks map[string]*streakState, r result) {
	a := r.attempt
	st, ok := streaks[r.hook]
	if !ok {
		st = &streakState{}
		if wh, found := d.cfg.Webhooks.Webhook(a.GetTenant(), a.GetWebhook()); found {
			st.failures, st.disabled = wh.Failures, !wh.Enabled
			if wh.FailingSince != nil {
				st.since = *wh.FailingSince
			}
		}
		streaks[r.hook] = st
	}
	if a.GetDelivered() {
		st.failures, st.since = 0, time.Time{}
		return
	}
	at := time.Unix(0, a.GetAtUnixNano())
	if st.failures == 0 || st.since.IsZero() {
		st.since = at
	}
	st.failures++
	if !st.disabled && st.failures >= d.cfg.DisableFailures && at.Sub(st.since) >= d.cfg.DisableAfter {
		a.DisableReason = clean(fmt.Sprintf("%d failed attempts in a row since %s; last: %s",
			st.failures, st.since.UTC().Format(time.RFC3339), a.GetError()))
		st.disabled = true
		d.log.Warn("webhook disabled after repeated failures", "tenant", a.GetTenant(), "webhook", a.GetWebhook(), "failures", st.failures)
	}
}

// Stats is what the deliverer has done since it started (for benchmarks
// and tests).
func (d *Deliverer) Stats() (delivered, failed uint64) { return d.metrics.counts() }
