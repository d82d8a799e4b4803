package webhooks

import (
	"fmt"
	"sync/atomic"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Store is the webhooks module. Its read accessors are safe for
// concurrent use and never block Apply.
type Store struct {
	tenancy *tenancy.Store
	cur     atomic.Pointer[data]
	// outboxCap is MaxOutboxPerTenant (smaller in tests).
	outboxCap int
}

// data is one immutable version. Stored values are never changed.
type data struct {
	webhooks table.Table[*Webhook]  // Key(tenant, id)
	outbox   table.Table[*Delivery] // Key(tenant, webhook, seq)
	attempts table.Table[*Attempt]  // Key(tenant, webhook, attempt seq)
	// Derived (rebuilt on restore, never hashed or written):
	pending table.Table[int] // tenant -> deliveries in the outbox
}

// New returns an empty webhooks module that checks tenants in ten.
func New(ten *tenancy.Store) *Store {
	s := &Store{tenancy: ten, outboxCap: MaxOutboxPerTenant}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
	_ consensus.EventSink     = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "webhooks" }

type write struct {
	s        *Store
	webhooks *table.Txn[*Webhook]
	outbox   *table.Txn[*Delivery]
	attempts *table.Txn[*Attempt]
	pending  *table.Txn[int]
}

func (w *write) Commit() {
	w.s.cur.Store(&data{webhooks: w.webhooks.Commit(), outbox: w.outbox.Commit(),
		attempts: w.attempts.Commit(), pending: w.pending.Commit()})
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, webhooks: d.webhooks.Txn(), outbox: d.outbox.Txn(), attempts: d.attempts.Txn(), pending: d.pending.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

// seq is a sortable position in the log: the entry's index and a
// position inside it.
func seq(index uint64, n int) string { return fmt.Sprintf("%016x%04x", index, n) }

// EventID is the id of the n-th event of the entry at index.
func EventID(index uint64, n int) string { return fmt.Sprintf("evt_%d_%d", index, n) }

func (w *write) addDelivery(tenant string, d *Delivery) {
	w.outbox.Put(table.Key(tenant, d.Webhook, d.Seq), d)
	bump(w.pending, tenant, 1)
}

func (w *write) removeDelivery(tenant string, d *Delivery) {
	if w.outbox.Delete(table.Key(tenant, d.Webhook, d.Seq)) {
		bump(w.pending, tenant, -1)
	}
}

func bump(t *table.Txn[int], key string, by int) {
	n, _ := t.Get(key)
	if n += by; n <= 0 {
		t.Delete(key)
	} else {
		t.Put(key, n)
	}
}

// addAttempt appends a to its webhook's attempt log, forgetting the
// oldest beyond MaxAttemptsKept.
func (w *write) addAttempt(tenant string, a *Attempt, key string) {
	prefix := table.Prefix(tenant, a.Webhook)
	w.attempts.Put(prefix+key, a)
	var keys []string
	w.attempts.Walk(prefix, func(k string, _ *Attempt) bool { keys = append(keys, k); return true })
	for _, k := range keys[:max(0, len(keys)-MaxAttemptsKept)] {
		w.attempts.Delete(k)
	}
}

// dropWebhook removes a webhook with its deliveries and attempts.
func (w *write) dropWebhook(tenant, id string) {
	var gone []*Delivery
	w.outbox.Walk(table.Prefix(tenant, id), func(_ string, d *Delivery) bool { gone = append(gone, d); return true })
	for _, d := range gone {
		w.removeDelivery(tenant, d)
	}
	w.attempts.DeletePrefix(table.Prefix(tenant, id))
	w.webhooks.Delete(table.Key(tenant, id))
}

// DropTenant implements consensus.TenantDropper.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	d := s.cur.Load()
	if _, staged := tx.Staged(s).(*write); !staged && !hasPrefix(d.webhooks, tenant) && !hasPrefix(d.outbox, tenant) {
		return // nothing of this tenant: stage nothing
	}
	w := s.write(tx)
	w.webhooks.DeletePrefix(table.Prefix(tenant))
	w.outbox.DeletePrefix(table.Prefix(tenant))
	w.attempts.DeletePrefix(table.Prefix(tenant))
	w.pending.Delete(tenant)
}

func hasPrefix[T any](t table.Table[T], tenant string) bool {
	found := false
	t.Walk(table.Prefix(tenant), func(string, T) bool { found = true; return false })
	return found
}
