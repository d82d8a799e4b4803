package servers

import (
	"maps"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// This file is what the fleets module (state/fleets) uses inside its
// Apply: fleet servers are ordinary server records with a Fleet, and the
// fleets module places and removes them through these methods, which see
// the entry's staged changes.

// FleetCounts counts one fleet's server records.
type FleetCounts struct {
	Total   int
	ByState map[string]int
	// ByNode counts the records per node, whatever their state.
	ByNode map[string]int
}

// Available is how many servers count toward the ready buffer: starting,
// ready and reserved ones (allocated, draining and unhealthy do not).
func (c FleetCounts) Available() int {
	return c.ByState[StateStarting] + c.ByState[StateReady] + c.ByState[StateReserved]
}

// FleetCountsInTx counts the fleet's records as tx sees them.
func (s *Store) FleetCountsInTx(tx *consensus.Tx, tenant, project, fleet string) FleetCounts {
	w := s.write(tx)
	c := FleetCounts{ByState: map[string]int{}, ByNode: map[string]int{}}
	prefix := table.Prefix(tenant, project)
	w.byProject.Walk(prefix, func(k string, _ struct{}) bool {
		srv, ok := w.servers.Get(serverKey(tenant, k[len(prefix):]))
		if ok && srv.Fleet == fleet {
			c.Total++
			c.ByState[srv.State]++
			c.ByNode[srv.Node]++
		}
		return true
	})
	return c
}

// DrainedInTx reports whether node is drained, as tx sees it.
func (s *Store) DrainedInTx(tx *consensus.Tx, node string) bool {
	_, drained := s.write(tx).nodes.Get(node)
	return drained
}

// PlaceInTx records a new starting server of a fleet on node. It refuses
// an id that exists, a drained node and a tenant at its cap.
func (s *Store) PlaceInTx(tx *consensus.Tx, tenant, project, fleet, id, node string, labels map[string]string) error {
	w := s.write(tx)
	if _, exists := w.servers.Get(serverKey(tenant, id)); exists {
		return consensus.NewError(consensus.ErrConflict, "server %q already exists", id)
	}
	if _, drained := w.nodes.Get(node); drained {
		return consensus.NewError(consensus.ErrConflict, "node %q is drained: no new servers", node)
	}
	if n, _ := w.counts.Get(tenant); n >= MaxServersPerTenant {
		return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d servers", tenant, MaxServersPerTenant)
	}
	srv := &Server{ID: id, Tenant: tenant, Project: project, Fleet: fleet, Node: node,
		Labels: maps.Clone(labels), State: StateStarting, CreatedAt: tx.Time, UpdatedAt: tx.Time}
	w.put(nil, srv)
	tx.Emit(consensus.Event{Action: "server.state_changed", Tenant: tenant, Target: id, Detail: "from= to=starting fleet=" + fleet,
		Operational: true, Data: map[string]string{"project": project, "fleet": fleet, "server": id, "node": node, "from": "", "to": StateStarting}})
	return nil
}

// RemoveFleetInTx removes every record of the fleet (whatever its state:
// deleting a fleet stops all its servers) and returns how many.
func (s *Store) RemoveFleetInTx(tx *consensus.Tx, tenant, project, fleet string) int {
	w := s.write(tx)
	var gone []*Server
	prefix := table.Prefix(tenant, project)
	w.byProject.Walk(prefix, func(k string, _ struct{}) bool {
		if srv, ok := w.servers.Get(serverKey(tenant, k[len(prefix):])); ok && srv.Fleet == fleet {
			gone = append(gone, srv)
		}
		return true
	})
	for _, old := range gone {
		w.remove(old)
		srv := old.clone()
		srv.State = StateShutdown
		tx.Emit(stateEvent(srv, old.State))
	}
	return len(gone)
}
