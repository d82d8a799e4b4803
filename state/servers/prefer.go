package servers

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// MaxPreferred bounds Allocate.preferred_server_ids, and so the
// candidates a node offers the score_allocation hook.
const MaxPreferred = 64

// Candidate is a server an allocation could pick, as the score_allocation
// hook sees it.
type Candidate struct {
	ID       string            `json:"id"`
	Project  string            `json:"project_id,omitempty"`
	Fleet    string            `json:"fleet,omitempty"`
	Node     string            `json:"node"`
	State    string            `json:"state"`
	Labels   map[string]string `json:"labels,omitempty"`
	Players  uint32            `json:"players"`
	Capacity uint32            `json:"capacity"`
}

// selectorsOf is the request's selectors, or the default one (ready).
func selectorsOf(op *cassnetv1.Allocate) []*cassnetv1.Allocate_Selector {
	if sels := op.GetSelectors(); len(sels) > 0 {
		return sels
	}
	return []*cassnetv1.Allocate_Selector{{State: StateReady}}
}

// eligible reports whether srv may be picked for op by some selector:
// in the request's project (if named), on a schedulable node, in the
// selector's state, passing its fleet, labels and free players. It is
// the same test pick applies, so a preferred server never widens what
// the request may get.
func eligible(op *cassnetv1.Allocate, srv *Server, drained func(node string) bool) bool {
	if srv.Tenant != op.GetTenant() || op.GetProject() != "" && srv.Project != op.GetProject() || drained(srv.Node) {
		return false
	}
	for _, sel := range selectorsOf(op) {
		state := sel.GetState()
		if state == "" {
			state = StateReady
		}
		if srv.State == state && candidate(op, sel, srv) {
			return true
		}
	}
	return false
}

// pickPreferred returns the first of op's preferred servers that is
// eligible now, in this entry, or nil. The preference was computed on a
// replica that may have been behind, so each one is checked again here:
// a stale preference can never hand out a server twice.
func (w *write) pickPreferred(op *cassnetv1.Allocate) *Server {
	drained := func(node string) bool { _, d := w.nodes.Get(node); return d }
	for _, id := range op.GetPreferredServerIds() {
		if srv, ok := w.servers.Get(serverKey(op.GetTenant(), id)); ok && eligible(op, srv, drained) {
			return srv
		}
	}
	return nil
}

// Candidates returns, from this replica, up to limit (at most
// MaxPreferred) servers that op could be given, in the order the default
// choice would try them: selector by selector, each in the strategy's
// node order, then node name, then id (so the first candidate is the
// server Apply would pick without a preference). It is what a node offers
// the score_allocation hook; Apply checks every preferred server again,
// since this replica may be behind. With a project it visits only the
// servers in each selector's state, node by node, and stops at limit;
// without one it walks the tenant's servers. Never called in Apply.
func (s *Store) Candidates(op *cassnetv1.Allocate, limit int) []Candidate {
	limit = min(max(limit, 0), MaxPreferred)
	d := s.cur.Load()
	drained := func(node string) bool { _, ok := d.nodes.Get(node); return ok }
	out := make([]Candidate, 0, limit)
	seen := map[string]bool{}
	add := func(srv *Server) bool {
		if !seen[srv.ID] {
			seen[srv.ID] = true
			out = append(out, Candidate{
				ID: srv.ID, Project: srv.Project, Fleet: srv.Fleet, Node: srv.Node, State: srv.State,
				Labels: maps.Clone(srv.Labels), Players: srv.Players, Capacity: srv.Capacity,
			})
		}
		return len(out) < limit
	}
	for _, sel := range selectorsOf(op) {
		if len(out) >= limit {
			break
		}
		state := sel.GetState()
		if state == "" {
			state = StateReady
		}
		match := func(srv *Server) bool { return srv.State == state && candidate(op, sel, srv) && !drained(srv.Node) }
		for _, srv := range d.ordered(op, state, limit-len(out), match) {
			if !add(srv) {
				break
			}
		}
	}
	return out
}

// ordered returns up to n servers of op's tenant (and project, if named)
// in state that pass match, in the default choice's order.
func (d *data) ordered(op *cassnetv1.Allocate, state string, n int, match func(*Server) bool) []*Server {
	distributed := op.GetStrategy() == StrategyDistributed
	if op.GetProject() == "" {
		type scored struct {
			srv  *Server
			busy int
		}
		var all []scored
		d.byProject.Walk(table.Prefix(op.GetTenant()), func(k string, _ struct{}) bool {
			if srv, ok := d.servers.Get(serverKey(op.GetTenant(), k[len(k)-idLen(k):])); ok && match(srv) {
				busy, _ := d.busy.Get(srv.Node)
				all = append(all, scored{srv, busy})
			}
			return true
		})
		slices.SortFunc(all, func(a, b scored) int {
			switch {
			case better(a.srv, a.busy, b.srv, b.busy, distributed):
				return -1
			case better(b.srv, b.busy, a.srv, a.busy, distributed):
				return 1
			}
			return 0
		})
		var out []*Server
		for _, c := range all[:min(len(all), n)] {
			out = append(out, c.srv)
		}
		return out
	}
	type nodeBusy struct {
		node string
		busy int
	}
	var order []nodeBusy
	prefix := table.Prefix(op.GetTenant(), op.GetProject(), state)
	d.stateNodes.Walk(prefix, func(k string, _ int) bool {
		busy, _ := d.busy.Get(k[len(prefix):])
		order = append(order, nodeBusy{k[len(prefix):], busy})
		return true
	})
	slices.SortFunc(order, func(a, b nodeBusy) int {
		if a.busy != b.busy {
			if distributed {
				return cmp.Compare(a.busy, b.busy)
			}
			return cmp.Compare(b.busy, a.busy)
		}
		return strings.Compare(a.node, b.node)
	})
	var out []*Server
	for _, nb := range order {
		np := table.Prefix(op.GetTenant(), op.GetProject(), state, nb.node)
		d.byState.Walk(np, func(k string, _ struct{}) bool {
			if srv, ok := d.servers.Get(serverKey(op.GetTenant(), k[len(np):])); ok && match(srv) {
				out = append(out, srv)
			}
			return len(out) < n
		})
		if len(out) >= n {
			break
		}
	}
	return out
}

// validatePreferred checks preferred_server_ids: at most MaxPreferred
// server ids, no duplicates, and preferred_only only with a list.
func validatePreferred(op *cassnetv1.Allocate) error {
	ids := op.GetPreferredServerIds()
	if len(ids) > MaxPreferred {
		return invalid("preferred_server_ids: at most %d", MaxPreferred)
	}
	if op.GetPreferredOnly() && len(ids) == 0 {
		return invalid("preferred_only: needs preferred_server_ids")
	}
	seen := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if err := ValidateID("preferred_server_ids", id); err != nil {
			return err
		}
		if _, dup := seen[id]; dup {
			return invalid("preferred_server_ids[%d]: %q is repeated", i, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// errNoPreferred is the no_capacity answer when preferred_only left no
// eligible server.
func errNoPreferred(op *cassnetv1.Allocate) error {
	return consensus.NewError(ErrNoCapacity, "none of the %d preferred servers of tenant %q is still available",
		len(op.GetPreferredServerIds()), op.GetTenant())
}
