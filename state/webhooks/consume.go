package webhooks

import (
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Consume implements consensus.EventSink: each event whose Action the
// catalogue maps to a type enters the outbox, in this entry, once for each
// enabled webhook of its tenant subscribed to the type. A tenant whose
// outbox is full records nothing more: each webhook the event was for
// counts it in Dropped.
func (s *Store) Consume(tx *consensus.Tx, events []consensus.Event) {
	var hooks table.Reader[*Webhook]
	if w, ok := tx.Staged(s).(*write); ok {
		hooks = w.webhooks
	} else {
		d := s.cur.Load()
		if d.webhooks.Len() == 0 {
			return // the common case: no webhooks at all
		}
		hooks = d.webhooks
	}
	var w *write
	for i, e := range events {
		typ, ok := TypeOf(e.Action)
		if !ok || e.Tenant == "" {
			continue
		}
		var subs []*Webhook
		hooks.Walk(table.Prefix(e.Tenant), func(_ string, wh *Webhook) bool {
			if wh.Enabled && wh.Subscribed(typ) {
				subs = append(subs, wh)
			}
			return true
		})
		if len(subs) == 0 {
			continue
		}
		if w == nil {
			w = s.write(tx)
			hooks = w.webhooks
		}
		ev := &Event{ID: EventID(tx.Index, i), Type: typ, Tenant: e.Tenant, OccurredAt: tx.Time, Data: eventData(e)}
		for _, wh := range subs {
			if n, _ := w.pending.Get(e.Tenant); n >= s.outboxCap {
				cur, _ := w.webhooks.Get(table.Key(wh.Tenant, wh.ID))
				c := cur.clone()
				c.Dropped++
				w.webhooks.Put(table.Key(wh.Tenant, wh.ID), c)
				continue
			}
			w.addDelivery(e.Tenant, &Delivery{Webhook: wh.ID, Seq: seq(tx.Index, i), NextAt: tx.Time, Event: ev})
		}
	}
}

// eventData is the delivered data of e: its Data, with the target and the
// actor when the module did not set them, bounded in size.
func eventData(e consensus.Event) map[string]string {
	out := make(map[string]string, len(e.Data)+2)
	for _, k := range slices.Sorted(maps.Keys(e.Data)) { // sorted: the cut is the same on every node
		if len(out) >= MaxDataFields {
			break
		}
		out[truncate(k, 64)] = truncate(e.Data[k], MaxDataLen)
	}
	if _, ok := out["target"]; !ok && e.Target != "" {
		out["target"] = truncate(e.Target, MaxDataLen)
	}
	if _, ok := out["actor"]; !ok && e.Actor != "" {
		out["actor"] = truncate(e.Actor, MaxDataLen)
	}
	return out
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
