package servers

import (
	"maps"
	"slices"

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
// choice would prefer them (the strategy's node order, then node name,
// then id). It is what a node offers the score_allocation hook; Apply
// checks every preferred server again, since this replica may be behind.
// It reads every server of the request's project (of the tenant without
// one), so it costs O(servers) on the request path, never in Apply.
func (s *Store) Candidates(op *cassnetv1.Allocate, limit int) []Candidate {
	limit = min(max(limit, 0), MaxPreferred)
	d := s.cur.Load()
	drained := func(node string) bool { _, ok := d.nodes.Get(node); return ok }
	prefix := table.Prefix(op.GetTenant())
	if op.GetProject() != "" {
		prefix = table.Prefix(op.GetTenant(), op.GetProject())
	}
	type scored struct {
		srv  *Server
		busy int
	}
	var all []scored
	d.byProject.Walk(prefix, func(k string, _ struct{}) bool {
		srv, ok := d.servers.Get(serverKey(op.GetTenant(), k[len(k)-idLen(k):]))
		if ok && eligible(op, srv, drained) {
			busy, _ := d.busy.Get(srv.Node)
			all = append(all, scored{srv, busy})
		}
		return true
	})
	distributed := op.GetStrategy() == StrategyDistributed
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case better(a.srv, a.busy, b.srv, b.busy, distributed):
			return -1
		case better(b.srv, b.busy, a.srv, a.busy, distributed):
			return 1
		}
		return 0
	})
	out := make([]Candidate, 0, min(len(all), limit))
	for _, c := range all[:min(len(all), limit)] {
		out = append(out, Candidate{
			ID: c.srv.ID, Project: c.srv.Project, Fleet: c.srv.Fleet, Node: c.srv.Node, State: c.srv.State,
			Labels: maps.Clone(c.srv.Labels), Players: c.srv.Players, Capacity: c.srv.Capacity,
		})
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
