package webhooks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// public is w as readers see it: without its secret.
func public(w *Webhook) Webhook {
	c := *w.clone()
	c.Secret = ""
	return c
}

// Webhook returns one webhook of a tenant, without its secret.
func (s *Store) Webhook(tenant, id string) (Webhook, bool) {
	w, ok := s.cur.Load().webhooks.Get(table.Key(tenant, id))
	if !ok {
		return Webhook{}, false
	}
	return public(w), true
}

// Webhooks returns a tenant's webhooks (every tenant's when tenant is
// ""), sorted by tenant and id, without their secrets.
func (s *Store) Webhooks(tenant string) []Webhook {
	prefix := ""
	if tenant != "" {
		prefix = table.Prefix(tenant)
	}
	var out []Webhook
	s.cur.Load().webhooks.Each(prefix, func(w *Webhook) bool { out = append(out, public(w)); return true })
	return out
}

// SigningSecret returns a webhook's signing secret, for the deliverer
// only: never log it or return it from a read.
func (s *Store) SigningSecret(tenant, id string) (string, bool) {
	w, ok := s.cur.Load().webhooks.Get(table.Key(tenant, id))
	if !ok {
		return "", false
	}
	return w.Secret, true
}

// Pending returns up to limit of a webhook's pending deliveries, oldest
// first (limit <= 0: all). Their Events are shared and must not be
// changed.
func (s *Store) Pending(tenant, id string, limit int) []Delivery {
	var out []Delivery
	s.cur.Load().outbox.Each(table.Prefix(tenant, id), func(d *Delivery) bool {
		out = append(out, *d)
		return limit <= 0 || len(out) < limit
	})
	return out
}

// PendingCount is how many deliveries a webhook has pending.
func (s *Store) PendingCount(tenant, id string) int {
	n := 0
	s.cur.Load().outbox.Each(table.Prefix(tenant, id), func(*Delivery) bool { n++; return true })
	return n
}

// Due returns up to limit of a webhook's deliveries due at now, oldest
// first, leaving out those skip names (by Seq).
func (s *Store) Due(tenant, id string, now time.Time, limit int, skip func(seq string) bool) []Delivery {
	var out []Delivery
	s.cur.Load().outbox.Each(table.Prefix(tenant, id), func(d *Delivery) bool {
		if !d.NextAt.After(now) && !skip(d.Seq) {
			out = append(out, *d)
		}
		return len(out) < limit
	})
	return out
}

// Attempts returns up to limit of a webhook's recent attempts, newest
// first (limit <= 0: all that are kept).
func (s *Store) Attempts(tenant, id string, limit int) []Attempt {
	var all []Attempt
	s.cur.Load().attempts.Each(table.Prefix(tenant, id), func(a *Attempt) bool { all = append(all, *a); return true })
	slices.Reverse(all)
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all
}

// Stats are the module's totals, for metrics.
type Stats struct {
	Webhooks, Enabled, Pending  int
	Dropped, Delivered, Expired uint64
}

// Stats returns the totals over every tenant.
func (s *Store) Stats() Stats {
	d := s.cur.Load()
	st := Stats{Webhooks: d.webhooks.Len(), Pending: d.outbox.Len()}
	d.webhooks.Each("", func(w *Webhook) bool {
		if w.Enabled {
			st.Enabled++
		}
		st.Dropped += w.Dropped
		st.Delivered += w.Delivered
		st.Expired += w.Expired
		return true
	})
	return st
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) empty() bool {
	return c.d.webhooks.Len() == 0 && c.d.outbox.Len() == 0 && c.d.attempts.Len() == 0
}

func hashEvent(e *consensus.HashEncoder, ev *Event) {
	if ev == nil {
		e.Str("")
		return
	}
	e.Str(ev.ID)
	e.Str(ev.Type)
	e.Str(ev.Tenant)
	e.Time(ev.OccurredAt)
	keys := slices.Sorted(maps.Keys(ev.Data))
	e.U64(uint64(len(keys)))
	for _, k := range keys {
		e.Str(k)
		e.Str(ev.Data[k])
	}
}

// Hash writes nothing while the module is empty (a module added after the
// first release), then webhooks, deliveries and attempts in key order.
func (c section) Hash(e *consensus.HashEncoder) {
	if c.empty() {
		return
	}
	e.Section("webhooks", c.d.webhooks.Len())
	c.d.webhooks.Walk("", func(_ string, w *Webhook) bool {
		e.Str(w.Tenant)
		e.Str(w.ID)
		e.Str(w.URL)
		e.U64(uint64(len(w.Events)))
		for _, t := range w.Events {
			e.Str(t)
		}
		e.Str(w.Description)
		e.Str(fmt.Sprint(w.Enabled))
		e.Str(w.Secret)
		e.Time(w.CreatedAt)
		e.Str(w.CreatedBy)
		e.Time(w.UpdatedAt)
		e.U64(uint64(w.Failures))
		e.OptTime(w.FailingSince)
		e.Str(w.DisabledReason)
		e.OptTime(w.DisabledAt)
		e.U64(w.Delivered)
		e.U64(w.Dropped)
		e.U64(w.Expired)
		return true
	})
	e.Section("webhook_outbox", c.d.outbox.Len())
	c.d.outbox.Walk("", func(_ string, d *Delivery) bool {
		e.Str(d.Webhook)
		e.Str(d.Seq)
		e.U64(uint64(d.Attempts))
		e.Time(d.NextAt)
		hashEvent(e, d.Event)
		return true
	})
	e.Section("webhook_attempts", c.d.attempts.Len())
	c.d.attempts.Walk("", func(k string, a *Attempt) bool {
		e.Str(k)
		e.Str(a.EventID)
		e.Str(a.EventType)
		e.U64(uint64(a.Attempt))
		e.Time(a.At)
		e.Str(fmt.Sprint(a.Delivered))
		e.U64(uint64(int64(a.StatusCode)))
		e.U64(uint64(a.LatencyMS))
		e.Str(a.Error)
		hashEvent(e, a.Event)
		return true
	})
}

// attemptRecord is an attempt in the snapshot, with its key.
type attemptRecord struct {
	Tenant  string   `json:"tenant"`
	Key     string   `json:"key"`
	Attempt *Attempt `json:"attempt"`
}

// deliveryRecord is a delivery in the snapshot, with its tenant.
type deliveryRecord struct {
	Tenant   string    `json:"tenant"`
	Delivery *Delivery `json:"delivery"`
}

func (c section) Write(w *consensus.SectionWriter) error {
	if c.empty() {
		return nil
	}
	var outbox []deliveryRecord
	c.d.outbox.Walk("", func(k string, d *Delivery) bool {
		outbox = append(outbox, deliveryRecord{Tenant: d.Event.Tenant, Delivery: d})
		return true
	})
	var attempts []attemptRecord
	c.d.attempts.Walk("", func(k string, a *Attempt) bool {
		tenant, rest := splitTenant(k)
		attempts = append(attempts, attemptRecord{Tenant: tenant, Key: rest, Attempt: a})
		return true
	})
	return consensus.FirstError(
		consensus.WriteList(w, "webhooks", c.d.webhooks.Values("")),
		consensus.WriteList(w, "webhook_outbox", outbox),
		consensus.WriteList(w, "webhook_attempts", attempts))
}

// splitTenant splits an attempt key Key(tenant, webhook, seq) into the
// tenant and the attempt's own key (its seq).
func splitTenant(k string) (string, string) {
	parts := strings.Split(k, table.Sep)
	if len(parts) != 3 {
		return "", k
	}
	return parts[0], parts[2]
}

func (c section) Counts() map[string]int {
	return map[string]int{"webhooks": c.d.webhooks.Len(), "webhook_outbox": c.d.outbox.Len(), "webhook_attempts": c.d.attempts.Len()}
}

// Restore implements consensus.Module. It runs after tenancy.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		hooks    []*Webhook
		outbox   []deliveryRecord
		attempts []attemptRecord
	)
	if err := consensus.FirstError(src.Decode("webhooks", &hooks), src.Decode("webhook_outbox", &outbox),
		src.Decode("webhook_attempts", &attempts)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, wh := range hooks {
		if wh == nil || !s.tenancy.TenantExists(tx, wh.Tenant) || ValidateID("id", wh.ID) != nil {
			return fmt.Errorf("webhook: unknown tenant or malformed")
		}
		wh.CreatedAt, wh.UpdatedAt = wh.CreatedAt.UTC(), wh.UpdatedAt.UTC()
		wh.FailingSince, wh.DisabledAt = consensus.UTC(wh.FailingSince), consensus.UTC(wh.DisabledAt)
		w.webhooks.Put(table.Key(wh.Tenant, wh.ID), wh)
	}
	for _, r := range outbox {
		d := r.Delivery
		if d == nil || d.Event == nil {
			return fmt.Errorf("webhook outbox: malformed delivery")
		}
		if _, ok := w.webhooks.Get(table.Key(r.Tenant, d.Webhook)); !ok {
			return fmt.Errorf("webhook outbox: unknown webhook %q", d.Webhook)
		}
		d.NextAt, d.Event.OccurredAt = d.NextAt.UTC(), d.Event.OccurredAt.UTC()
		w.addDelivery(r.Tenant, d)
	}
	for _, r := range attempts {
		a := r.Attempt
		if a == nil {
			return fmt.Errorf("webhook attempts: malformed attempt")
		}
		if _, ok := w.webhooks.Get(table.Key(r.Tenant, a.Webhook)); !ok {
			return fmt.Errorf("webhook attempts: unknown webhook %q", a.Webhook)
		}
		a.At = a.At.UTC()
		if a.Event != nil {
			a.Event.OccurredAt = a.Event.OccurredAt.UTC()
		}
		w.attempts.Put(table.Key(r.Tenant, a.Webhook, r.Key), a)
	}
	return nil
}
