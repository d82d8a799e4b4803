package webhooks

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Register implements consensus.Module. Every operation needs state
// version 2.
func (s *Store) Register(r *consensus.Router) {
	v := uint32(consensus.StateVersionManagement)
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateWebhook]{Validate: validateCreate, Apply: s.create, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.UpdateWebhook]{Validate: validateUpdate, Apply: s.update, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeleteWebhook]{
		Validate: func(op *cassnetv1.DeleteWebhook) error {
			return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateID("id", op.GetId()))
		},
		Apply: s.delete, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RecordWebhookDeliveries]{Validate: validateRecord, Apply: s.record, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RedeliverWebhookEvent]{Validate: validateRedeliver, Apply: s.redeliver, MinStateVersion: v})
}

func notFound(tenant, id string) error {
	return consensus.NewError(consensus.ErrNotFound, "webhook %q not found in tenant %q", id, tenant)
}

// host is what the audit log says of a URL: its host only, because a
// URL's path may hold a token (Discord's and Slack's do).
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

func (s *Store) create(tx *consensus.Tx, op *cassnetv1.CreateWebhook) error {
	if !s.tenancy.TenantExists(tx, op.GetTenant()) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", op.GetTenant())
	}
	w := s.write(tx)
	if _, dup := w.webhooks.Get(table.Key(op.GetTenant(), op.GetId())); dup {
		return consensus.NewError(consensus.ErrConflict, "webhook %q already exists", op.GetId())
	}
	n := 0
	w.webhooks.Walk(table.Prefix(op.GetTenant()), func(string, *Webhook) bool { n++; return true })
	if n >= MaxWebhooksPerTenant {
		return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d webhooks", op.GetTenant(), MaxWebhooksPerTenant)
	}
	wh := &Webhook{
		ID: op.GetId(), Tenant: op.GetTenant(), URL: op.GetUrl(), Events: slices.Clone(op.GetEvents()),
		Description: op.GetDescription(), Enabled: true, Secret: op.GetSecret(),
		CreatedAt: tx.Time, CreatedBy: tx.Actor, UpdatedAt: tx.Time,
	}
	w.webhooks.Put(table.Key(wh.Tenant, wh.ID), wh)
	tx.Emit(consensus.Event{Action: "webhook.create", Tenant: wh.Tenant, Target: wh.ID, Detail: "host=" + host(wh.URL)})
	return nil
}

func (s *Store) update(tx *consensus.Tx, op *cassnetv1.UpdateWebhook) error {
	w := s.write(tx)
	old, ok := w.webhooks.Get(table.Key(op.GetTenant(), op.GetId()))
	if !ok {
		return notFound(op.GetTenant(), op.GetId())
	}
	wh := old.clone()
	if op.Url != nil {
		wh.URL = op.GetUrl()
	}
	if op.GetSetEvents() {
		wh.Events = slices.Clone(op.GetEvents())
	}
	if op.Description != nil {
		wh.Description = op.GetDescription()
	}
	if op.GetSecret() != "" {
		wh.Secret = op.GetSecret()
	}
	if op.Enabled != nil {
		switch {
		case op.GetEnabled() && !old.Enabled:
			// Re-enabling starts afresh: no failure streak, and what
			// waited is due now.
			wh.Enabled, wh.Failures, wh.FailingSince, wh.DisabledReason, wh.DisabledAt = true, 0, nil, "", nil
			var due []*Delivery
			w.outbox.Walk(table.Prefix(wh.Tenant, wh.ID), func(_ string, d *Delivery) bool { due = append(due, d); return true })
			for _, d := range due {
				nd := d.clone()
				nd.NextAt = tx.Time
				w.outbox.Put(table.Key(wh.Tenant, d.Webhook, d.Seq), nd)
			}
		case !op.GetEnabled() && old.Enabled:
			at := tx.Time
			wh.Enabled, wh.DisabledAt, wh.DisabledReason = false, &at, ""
		}
	}
	wh.UpdatedAt = tx.Time
	w.webhooks.Put(table.Key(wh.Tenant, wh.ID), wh)
	detail := "host=" + host(wh.URL)
	if op.GetSecret() != "" {
		detail += " secret rotated"
	}
	tx.Emit(consensus.Event{Action: "webhook.update", Tenant: wh.Tenant, Target: wh.ID, Detail: detail})
	return nil
}

func (s *Store) delete(tx *consensus.Tx, op *cassnetv1.DeleteWebhook) error {
	w := s.write(tx)
	if _, ok := w.webhooks.Get(table.Key(op.GetTenant(), op.GetId())); !ok {
		return notFound(op.GetTenant(), op.GetId())
	}
	w.dropWebhook(op.GetTenant(), op.GetId())
	tx.Emit(consensus.Event{Action: "webhook.delete", Tenant: op.GetTenant(), Target: op.GetId()})
	return nil
}

// record applies the leader's attempts. An attempt for a webhook deleted
// since is ignored; one for an event no longer pending (a duplicate) is
// logged only. It never fails for those, so one stale attempt cannot
// reject the batch.
func (s *Store) record(tx *consensus.Tx, op *cassnetv1.RecordWebhookDeliveries) error {
	w := s.write(tx)
	for i, a := range op.GetAttempts() {
		key := table.Key(a.GetTenant(), a.GetWebhook())
		old, ok := w.webhooks.Get(key)
		if !ok {
			continue
		}
		pos, _ := parseEventID(a.GetEventId()) // validated
		d, pending := w.outbox.Get(table.Key(a.GetTenant(), a.GetWebhook(), pos))
		at := time.Unix(0, a.GetAtUnixNano()).UTC()
		att := &Attempt{
			Webhook: a.GetWebhook(), Seq: pos, EventID: a.GetEventId(), Attempt: a.GetAttempt(), At: at,
			Delivered: a.GetDelivered(), StatusCode: a.GetStatusCode(), LatencyMS: a.GetLatencyMs(), Error: a.GetError(),
		}
		if pending {
			att.Event, att.EventType = d.Event, d.Event.Type
		}
		w.addAttempt(a.GetTenant(), att, seq(tx.Index, i))
		wh := old.clone()
		if a.GetDelivered() {
			if pending {
				w.removeDelivery(a.GetTenant(), d)
				wh.Delivered++
			}
			wh.Failures, wh.FailingSince = 0, nil
		} else {
			wh.Failures++
			if wh.FailingSince == nil {
				wh.FailingSince = &at
			}
			if pending && a.GetExpired() {
				w.removeDelivery(a.GetTenant(), d)
				wh.Expired++
			} else if pending {
				nd := d.clone()
				nd.Attempts = max(nd.Attempts, a.GetAttempt())
				nd.NextAt = time.Unix(0, a.GetNextAttemptUnixNano()).UTC()
				w.outbox.Put(table.Key(a.GetTenant(), d.Webhook, d.Seq), nd)
			}
		}
		if r := a.GetDisableReason(); r != "" && wh.Enabled {
			disabled := tx.Time
			wh.Enabled, wh.DisabledReason, wh.DisabledAt = false, r, &disabled
			tx.Emit(consensus.Event{Action: "webhook.disabled", Tenant: wh.Tenant, Target: wh.ID, Detail: r,
				Data: map[string]string{"webhook": wh.ID, "reason": r, "failures": strconv.FormatUint(uint64(wh.Failures), 10), "host": host(wh.URL)}})
		}
		w.webhooks.Put(key, wh)
	}
	return nil
}

func (s *Store) redeliver(tx *consensus.Tx, op *cassnetv1.RedeliverWebhookEvent) error {
	w := s.write(tx)
	tenant, id := op.GetTenant(), op.GetWebhook()
	if _, ok := w.webhooks.Get(table.Key(tenant, id)); !ok {
		return notFound(tenant, id)
	}
	pos, _ := parseEventID(op.GetEventId())
	if d, ok := w.outbox.Get(table.Key(tenant, id, pos)); ok {
		nd := d.clone()
		nd.NextAt = tx.Time
		w.outbox.Put(table.Key(tenant, id, pos), nd)
	} else {
		var ev *Event
		w.attempts.Walk(table.Prefix(tenant, id), func(_ string, a *Attempt) bool {
			if a.EventID == op.GetEventId() && a.Event != nil {
				ev = a.Event
			}
			return true
		})
		if ev == nil {
			return consensus.NewError(consensus.ErrNotFound, "event %q is neither pending nor in the recent attempts of webhook %q", op.GetEventId(), id)
		}
		if n, _ := w.pending.Get(tenant); n >= s.outboxCap {
			return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d pending deliveries", tenant, s.outboxCap)
		}
		w.addDelivery(tenant, &Delivery{Webhook: id, Seq: pos, NextAt: tx.Time, Event: ev})
	}
	tx.Emit(consensus.Event{Action: "webhook.redeliver", Tenant: tenant, Target: id, Detail: "event=" + op.GetEventId()})
	return nil
}
