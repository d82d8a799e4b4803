package servers

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// ErrNoCapacity: no server matches any selector. It maps to HTTP 409 with
// code no_capacity.
var ErrNoCapacity = &consensus.Error{Code: "no_capacity"}

func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }

func newAllocation(tx *consensus.Tx, srv *Server, id string, labels, annotations map[string]string, key string) *Allocation {
	return &Allocation{
		ID: id, Tenant: srv.Tenant, Project: srv.Project, Fleet: srv.Fleet, ServerID: srv.ID,
		Node: srv.Node, Address: srv.Address, Ports: maps.Clone(srv.Ports), State: StateAllocated,
		Labels: maps.Clone(srv.Labels), Annotations: maps.Clone(annotations), IdempotencyKey: key,
		CreatedAt: tx.Time, CreatedBy: tx.Actor,
	}
}

// allocate picks a server for the request and marks it allocated, in one
// entry: the selection reads the lifecycle as this entry sees it, so two
// allocations can never pick the same ready server. A repeated
// idempotency key answers the first allocation and changes nothing.
func (s *Store) allocate(tx *consensus.Tx, op *cassnetv1.Allocate) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	if k := op.GetIdempotencyKey(); k != "" {
		if id, ok := w.idempotency.Get(idemKey(op.GetTenant(), k)); ok {
			if a, ok := w.allocations.Get(table.Key(op.GetTenant(), id)); ok {
				if p := op.GetProject(); p != "" && a.Project != p {
					// Another request's key: never answer with (or reveal)
					// another project's allocation.
					return consensus.NewError(consensus.ErrConflict, "idempotency_key %q was used by another request", k)
				}
				return nil // the first answer stands; readers find it by the key
			}
		}
	}
	if _, dup := w.allocations.Get(table.Key(op.GetTenant(), op.GetAllocationId())); dup {
		return consensus.NewError(consensus.ErrConflict, "allocation %q already exists", op.GetAllocationId())
	}
	var old *Server
	// Before state version 3 a preference is ignored, as the previous
	// release (which does not know the fields) ignores it on its replicas.
	if len(op.GetPreferredServerIds()) > 0 && tx.StateVersion() >= consensus.StateVersionManagement {
		old = w.pickPreferred(op)
		if old == nil && op.GetPreferredOnly() {
			return errNoPreferred(op)
		}
	}
	for _, sel := range selectorsOf(op) {
		if old != nil {
			break
		}
		old = w.pick(op, sel)
	}
	if old == nil {
		return consensus.NewError(ErrNoCapacity, "no server of tenant %q matches any selector", op.GetTenant())
	}
	srv := old.clone()
	if srv.Labels == nil {
		srv.Labels = map[string]string{}
	}
	maps.Copy(srv.Labels, op.GetLabels())
	if len(srv.Labels) > MaxLabels {
		return invalid("metadata.labels: the server would have more than %d labels", MaxLabels)
	}
	srv.State, srv.UpdatedAt, srv.ReservedUntil = StateAllocated, tx.Time, nil
	srv.AllocationID, srv.Annotations = op.GetAllocationId(), maps.Clone(op.GetAnnotations())
	a := newAllocation(tx, srv, op.GetAllocationId(), nil, op.GetAnnotations(), op.GetIdempotencyKey())
	w.put(old, srv)
	w.putAllocation(a)
	tx.Emit(allocationEvent(a, "server="+a.ServerID))
	tx.Emit(stateEvent(srv, old.State))
	return nil
}

// pick returns the best server for one selector, or nil. Candidates are
// the project's servers (every project's when the request names none) in
// the fleet, if named, on schedulable nodes, in the selector's state, with
// its labels, and, for backfill, enough free player slots. Among them
// packed prefers the node with the most allocated servers, distributed the
// one with the fewest; ties go to the node name, then the server id, so
// every replica picks the same server.
//
// With a project, it visits only the servers in the selector's state,
// node by node in that order, each node's in id order, and stops at the
// first candidate: the same server the full walk (pickAll) would choose,
// without reading the rest of the pool.
func (w *write) pick(op *cassnetv1.Allocate, sel *cassnetv1.Allocate_Selector) *Server {
	if op.GetProject() == "" {
		return w.pickAll(op, sel)
	}
	state := sel.GetState()
	if state == "" {
		state = StateReady
	}
	type nodeBusy struct {
		node string
		busy int
	}
	var order []nodeBusy
	prefix := table.Prefix(op.GetTenant(), op.GetProject(), state)
	w.stateNodes.Walk(prefix, func(k string, _ int) bool {
		node := k[len(prefix):]
		if _, drained := w.nodes.Get(node); !drained {
			busy, _ := w.busy.Get(node)
			order = append(order, nodeBusy{node, busy})
		}
		return true
	})
	distributed := op.GetStrategy() == StrategyDistributed
	slices.SortFunc(order, func(a, b nodeBusy) int {
		if a.busy != b.busy {
			if distributed {
				return cmp.Compare(a.busy, b.busy)
			}
			return cmp.Compare(b.busy, a.busy)
		}
		return strings.Compare(a.node, b.node)
	})
	for _, n := range order {
		var found *Server
		np := table.Prefix(op.GetTenant(), op.GetProject(), state, n.node)
		w.byState.Walk(np, func(k string, _ struct{}) bool {
			srv, ok := w.servers.Get(serverKey(op.GetTenant(), k[len(np):]))
			if ok && srv.State == state && candidate(op, sel, srv) {
				found = srv
				return false
			}
			return true
		})
		if found != nil {
			return found
		}
	}
	return nil
}

// candidate reports whether srv, already in the selector's state, passes
// the request's fleet and the selector's labels and free players.
func candidate(op *cassnetv1.Allocate, sel *cassnetv1.Allocate_Selector, srv *Server) bool {
	if op.GetFleet() != "" && srv.Fleet != op.GetFleet() {
		return false
	}
	for lk, lv := range sel.GetLabels() {
		if v, ok := srv.Labels[lk]; !ok || v != lv {
			return false
		}
	}
	return srv.State != StateAllocated || srv.Capacity != 0 && srv.FreePlayers() >= max(sel.GetMinFreePlayers(), 1)
}

// pickAll is pick by a walk of every server of the request's project (of
// every project when it names none).
func (w *write) pickAll(op *cassnetv1.Allocate, sel *cassnetv1.Allocate_Selector) *Server {
	state := sel.GetState()
	if state == "" {
		state = StateReady
	}
	prefix := table.Prefix(op.GetTenant())
	if op.GetProject() != "" {
		prefix = table.Prefix(op.GetTenant(), op.GetProject())
	}
	distributed := op.GetStrategy() == StrategyDistributed
	var best *Server
	bestBusy := 0
	w.byProject.Walk(prefix, func(k string, _ struct{}) bool {
		id := k[len(k)-idLen(k):]
		srv, ok := w.servers.Get(serverKey(op.GetTenant(), id))
		if !ok || srv.State != state || !candidate(op, sel, srv) {
			return true
		}
		if _, drained := w.nodes.Get(srv.Node); drained {
			return true
		}
		busy, _ := w.busy.Get(srv.Node)
		if best == nil || better(srv, busy, best, bestBusy, distributed) {
			best, bestBusy = srv, busy
		}
		return true
	})
	return best
}

// idLen is the length of the last part of a table key.
func idLen(k string) int {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == table.Sep[0] {
			return len(k) - i - 1
		}
	}
	return len(k)
}

func better(a *Server, aBusy int, b *Server, bBusy int, distributed bool) bool {
	if aBusy != bBusy {
		if distributed {
			return aBusy < bBusy
		}
		return aBusy > bBusy
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.ID < b.ID
}
