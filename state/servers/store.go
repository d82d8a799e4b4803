package servers

import (
	"sync/atomic"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Store is the servers module. Its read accessors are safe for concurrent
// use and never block Apply.
type Store struct {
	tenancy *tenancy.Store
	cur     atomic.Pointer[data]
}

// data is one immutable version. Stored *Server and *Allocation values
// are never changed: a change stores a new one.
type data struct {
	servers     table.Table[*Server]     // by Key(tenant, id)
	allocations table.Table[*Allocation] // by Key(tenant, id)
	idempotency table.Table[string]      // Key(tenant, key) -> allocation id
	nodes       table.Table[NodeState]   // drained nodes, by name
	// Derived (rebuilt on restore, never hashed or written):
	byProject table.Table[struct{}] // Key(tenant, project, id)
	byNode    table.Table[struct{}] // Key(node, tenant, id)
	busy      table.Table[int]      // node -> allocated servers on it
	counts    table.Table[int]      // tenant -> servers
	// byState and stateNodes let an allocation look only at the servers
	// in the selector's state, node by node in the strategy's order.
	byState    table.Table[struct{}] // Key(tenant, project, state, node, id)
	stateNodes table.Table[int]      // Key(tenant, project, state, node) -> servers
	reserved   table.Expiry          // reservation ends -> Key(tenant, id)
	expiring   table.Expiry          // allocation created + retention -> Key(tenant, id)
}

// New returns an empty servers module that checks tenants and projects in
// ten.
func New(ten *tenancy.Store) *Store {
	s := &Store{tenancy: ten}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
	_ consensus.Pruner        = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "servers" }

type write struct {
	s           *Store
	servers     *table.Txn[*Server]
	allocations *table.Txn[*Allocation]
	idempotency *table.Txn[string]
	nodes       *table.Txn[NodeState]
	byProject   *table.Txn[struct{}]
	byNode      *table.Txn[struct{}]
	busy        *table.Txn[int]
	counts      *table.Txn[int]
	byState     *table.Txn[struct{}]
	stateNodes  *table.Txn[int]
	reserved    table.ExpiryTxn
	expiring    table.ExpiryTxn
}

func (w *write) Commit() {
	w.s.cur.Store(&data{
		servers: w.servers.Commit(), allocations: w.allocations.Commit(), idempotency: w.idempotency.Commit(),
		nodes: w.nodes.Commit(), byProject: w.byProject.Commit(), byNode: w.byNode.Commit(),
		busy: w.busy.Commit(), counts: w.counts.Commit(),
		byState: w.byState.Commit(), stateNodes: w.stateNodes.Commit(), reserved: w.reserved.Commit(), expiring: w.expiring.Commit(),
	})
}

func (s *Store) begin(d *data) *write {
	return &write{
		s: s, servers: d.servers.Txn(), allocations: d.allocations.Txn(), idempotency: d.idempotency.Txn(),
		nodes: d.nodes.Txn(), byProject: d.byProject.Txn(), byNode: d.byNode.Txn(), busy: d.busy.Txn(),
		counts: d.counts.Txn(), byState: d.byState.Txn(), stateNodes: d.stateNodes.Txn(), reserved: d.reserved.Txn(), expiring: d.expiring.Txn(),
	}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func serverKey(tenant, id string) string { return table.Key(tenant, id) }

// idemKey is an idempotency key's table key: keys are per tenant.
func idemKey(tenant, key string) string { return table.Key(tenant, key) }

// put stores srv in place of old (nil for a new server), keeping every
// index in step.
func (w *write) put(old, srv *Server) {
	key := serverKey(srv.Tenant, srv.ID)
	if old != nil {
		w.unindex(old)
	} else {
		bumpIn(w.counts, srv.Tenant, 1)
	}
	w.servers.Put(key, srv)
	w.byProject.Put(table.Key(srv.Tenant, srv.Project, srv.ID), struct{}{})
	w.byNode.Put(table.Key(srv.Node, srv.Tenant, srv.ID), struct{}{})
	w.byState.Put(table.Key(srv.Tenant, srv.Project, srv.State, srv.Node, srv.ID), struct{}{})
	bumpIn(w.stateNodes, table.Key(srv.Tenant, srv.Project, srv.State, srv.Node), 1)
	if srv.State == StateAllocated {
		w.bump(srv.Node, 1)
	}
	if srv.State == StateReserved && srv.ReservedUntil != nil {
		w.reserved.Add(*srv.ReservedUntil, key)
	}
}

// unindex removes old from the derived indexes (not from servers).
func (w *write) unindex(old *Server) {
	w.byProject.Delete(table.Key(old.Tenant, old.Project, old.ID))
	w.byNode.Delete(table.Key(old.Node, old.Tenant, old.ID))
	w.byState.Delete(table.Key(old.Tenant, old.Project, old.State, old.Node, old.ID))
	bumpIn(w.stateNodes, table.Key(old.Tenant, old.Project, old.State, old.Node), -1)
	if old.State == StateAllocated {
		w.bump(old.Node, -1)
	}
	if old.State == StateReserved && old.ReservedUntil != nil {
		w.reserved.Remove(*old.ReservedUntil, serverKey(old.Tenant, old.ID))
	}
}

func (w *write) remove(old *Server) {
	w.unindex(old)
	w.servers.Delete(serverKey(old.Tenant, old.ID))
	bumpIn(w.counts, old.Tenant, -1)
}

func (w *write) bump(node string, by int) { bumpIn(w.busy, node, by) }

func bumpIn(t *table.Txn[int], key string, by int) {
	n, _ := t.Get(key)
	if n += by; n <= 0 {
		t.Delete(key)
	} else {
		t.Put(key, n)
	}
}

func (w *write) putAllocation(a *Allocation) {
	key := table.Key(a.Tenant, a.ID)
	w.allocations.Put(key, a)
	if a.IdempotencyKey != "" {
		w.idempotency.Put(idemKey(a.Tenant, a.IdempotencyKey), a.ID)
	}
	w.expiring.Add(a.CreatedAt.Add(AllocationRetention), key)
}

// DropTenant implements consensus.TenantDropper.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	var gone []*Server
	w.servers.Walk(table.Prefix(tenant), func(_ string, srv *Server) bool { gone = append(gone, srv); return true })
	for _, srv := range gone {
		w.remove(srv)
	}
	w.allocations.DeletePrefix(table.Prefix(tenant))
	w.idempotency.DeletePrefix(table.Prefix(tenant))
	w.counts.Delete(tenant)
}

// Prune implements consensus.Pruner: reservations that ran out return
// their server to ready, and allocations (with their idempotency keys)
// older than AllocationRetention are forgotten.
func (s *Store) Prune(tx *consensus.Tx) {
	at := tx.Time
	w, staged := tx.Staged(s).(*write)
	if staged {
		if !w.reserved.AnyDue(at) && !w.expiring.AnyDue(at) {
			return
		}
	} else if d := s.cur.Load(); !d.reserved.AnyDue(at) && !d.expiring.AnyDue(at) {
		return
	}
	w = s.write(tx)
	for _, key := range w.reserved.Due(at) {
		if old, ok := w.servers.Get(key); ok && old.State == StateReserved && old.ReservedUntil != nil && !old.ReservedUntil.After(at) {
			srv := old.clone()
			srv.State, srv.ReservedUntil, srv.UpdatedAt = StateReady, nil, at
			w.put(old, srv)
		}
	}
	for _, key := range w.expiring.Due(at) {
		a, ok := w.allocations.Get(key)
		if !ok || a.CreatedAt.Add(AllocationRetention).After(at) {
			continue
		}
		w.allocations.Delete(key)
		if a.IdempotencyKey != "" {
			w.idempotency.Delete(idemKey(a.Tenant, a.IdempotencyKey))
		}
	}
}
