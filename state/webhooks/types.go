// Package webhooks owns a tenant's webhooks and the replicated outbox of
// the events waiting to be delivered to them: each webhook's URL, its
// subscribed event types, its signing secret, whether it is enabled and
// why not, its failure streak and its counters; the pending deliveries
// (one per webhook and event, with its attempt count and next attempt
// time); and a bounded log of recent attempts per webhook.
//
// It is a consensus.EventSink: every event another module emits whose
// Action the catalogue maps to a webhook type enters the outbox in the
// same log entry as the change that caused it, for each webhook of the
// tenant subscribed to that type. Nothing is recorded for a tenant
// without such a webhook, so the state (and its hash) of a cluster that
// uses no webhooks never changes.
//
// It must not send HTTP requests, sign payloads, check the network
// reachability of a URL or decide a retry policy: the leader's deliverer
// (package webhook) does, and reports each attempt back with
// RecordWebhookDeliveries. It must not touch Raft.
package webhooks

import (
	"maps"
	"slices"
	"time"
)

// Limits.
const (
	// MaxWebhooksPerTenant caps a tenant's webhooks.
	MaxWebhooksPerTenant = 20
	// MaxOutboxPerTenant caps a tenant's pending deliveries. An event
	// that would exceed it is not recorded; each webhook it was for
	// counts it in Dropped (and the deliverer's metric).
	MaxOutboxPerTenant = 10000
	// MaxAttemptsKept is how many recent attempts each webhook keeps.
	MaxAttemptsKept = 50
	// MaxEvents is how many types one webhook may subscribe to.
	MaxEvents = 32
	// MaxURLLen bounds a webhook URL.
	MaxURLLen = 2048
	// MaxDescriptionLen bounds a description.
	MaxDescriptionLen = 256
	// MaxErrorLen bounds an attempt's error text.
	MaxErrorLen = 256
	// MaxDataFields and MaxDataLen bound an event's data.
	MaxDataFields = 32
	MaxDataLen    = 1024
)

// Webhook is one tenant webhook. Read accessors return it without its
// Secret; only SigningSecret reveals that, for the deliverer.
type Webhook struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	Enabled     bool      `json:"enabled"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Failures counts failed attempts since the last delivered one;
	// FailingSince is when that streak started.
	Failures     uint32     `json:"failures"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// DisabledReason says why the deliverer disabled the webhook (empty
	// when it is enabled, or disabled by a person).
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	// Delivered counts acknowledged deliveries; Dropped counts events not
	// recorded because the tenant's outbox was full; Expired below.
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
	// Expired counts events given up after the retry window.
	Expired uint64 `json:"expired"`
}

func (w *Webhook) clone() *Webhook {
	c := *w
	c.Events = slices.Clone(w.Events)
	return &c
}

// Subscribed reports whether w subscribes to event type t.
func (w *Webhook) Subscribed(t string) bool { return slices.Contains(w.Events, t) }

// Event is one event of the catalogue, as delivered.
type Event struct {
	// ID is "evt_<log index>_<position in the entry's events>": the same
	// on every node and in every retry, the receiver's deduplication key.
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Tenant     string            `json:"tenant"`
	OccurredAt time.Time         `json:"occurred_at"`
	Data       map[string]string `json:"data"`
}

// Delivery is one event pending for one webhook.
type Delivery struct {
	Webhook string `json:"webhook"`
	// Seq orders a webhook's deliveries (the event's log position).
	Seq      string    `json:"seq"`
	Attempts uint32    `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
	Event    *Event    `json:"event"`
}

func (d *Delivery) clone() *Delivery { c := *d; return &c }

// Attempt is one delivery attempt, as the leader reported it.
type Attempt struct {
	Webhook    string    `json:"webhook"`
	Seq        string    `json:"seq"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Attempt    uint32    `json:"attempt"`
	At         time.Time `json:"at"`
	Delivered  bool      `json:"delivered"`
	StatusCode int32     `json:"status_code,omitempty"`
	LatencyMS  uint32    `json:"latency_ms"`
	Error      string    `json:"error,omitempty"`
	// Event is kept so that a delivered event can be redelivered.
	Event *Event `json:"event,omitempty"`
}

func cloneData(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}
