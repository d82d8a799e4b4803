package servers

import (
	"maps"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Register implements consensus.Module. Every operation needs state
// version 2: nodes of the first release would skip them.
func (s *Store) Register(r *consensus.Router) {
	v := uint32(consensus.StateVersionDomains)
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RegisterServer]{Validate: validateRegister, Apply: s.register, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetServerState]{Validate: validateSetState, Apply: s.setState, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.UpdateServerPlayers]{Validate: validatePlayers, Apply: s.players, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetServerLabels]{Validate: validateLabelsOp, Apply: s.labels, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RemoveServer]{
		Validate: func(op *cassnetv1.RemoveServer) error {
			return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateID("server_id", op.GetId()))
		},
		Apply: s.removeServer, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.MarkNodeServers]{Validate: validateMarkNode, Apply: s.markNode, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.Allocate]{Validate: ValidateAllocate, Apply: s.allocate, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.SetNodeSchedulable]{
		Validate: func(op *cassnetv1.SetNodeSchedulable) error {
			if op.GetNode() == "" {
				return invalid("node: is required")
			}
			return consensus.ValidateText("node", op.GetNode(), maxIDLen)
		},
		Apply: s.setSchedulable, MinStateVersion: v,
	})
}

func notFound(tenant, id string) error {
	return consensus.NewError(consensus.ErrNotFound, "server %q in tenant %q", id, tenant)
}

func stateEvent(srv *Server, from string) consensus.Event {
	return consensus.Event{Action: "server.state_changed", Tenant: srv.Tenant, Target: srv.ID,
		Detail: "from=" + from + " to=" + srv.State, Operational: true,
		Data: map[string]string{"server_id": srv.ID, "project_id": srv.Project, "fleet": srv.Fleet, "node": srv.Node,
			"from": from, "to": srv.State, "allocation_id": srv.AllocationID}}
}

func (s *Store) register(tx *consensus.Tx, op *cassnetv1.RegisterServer) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	old, exists := w.servers.Get(serverKey(op.GetTenant(), op.GetId()))
	if !exists {
		// A reconnecting server may re-register anywhere; a new one may
		// not start on a drained node, nor grow the tenant past its cap.
		if _, drained := w.nodes.Get(op.GetNode()); drained {
			return consensus.NewError(consensus.ErrConflict, "node %q is drained: no new servers", op.GetNode())
		}
		if n, _ := w.counts.Get(op.GetTenant()); n >= MaxServersPerTenant {
			return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d servers", op.GetTenant(), MaxServersPerTenant)
		}
	}
	srv := &Server{
		ID: op.GetId(), Tenant: op.GetTenant(), Project: op.GetProject(), Fleet: op.GetFleet(),
		Node: op.GetNode(), Address: op.GetAddress(), Ports: maps.Clone(op.GetPorts()),
		Labels: maps.Clone(op.GetLabels()), Capacity: op.GetCapacity(), State: op.GetState(),
		CreatedAt: tx.Time, UpdatedAt: tx.Time,
	}
	from := ""
	if exists {
		srv.CreatedAt, from = old.CreatedAt, old.State
		if srv.Fleet == "" && old.Project == srv.Project {
			// A fleet server registering from its environment: it stays
			// the fleet's.
			srv.Fleet = old.Fleet
		}
		w.put(old, srv)
	} else {
		w.put(nil, srv)
	}
	tx.Emit(stateEvent(srv, from))
	return nil
}

// transition checks that a server in state from may move to to.
func transition(from, to string) error {
	switch {
	case from == to && to != StateReserved:
		return nil
	case to == StateReserved && from != StateReady && from != StateStarting && from != StateReserved:
		return consensus.NewError(consensus.ErrConflict, "a %s server cannot be reserved", from)
	case to == StateAllocated && from != StateReady && from != StateStarting && from != StateReserved:
		return consensus.NewError(consensus.ErrConflict, "a %s server cannot allocate itself", from)
	}
	return nil
}

func (s *Store) setState(tx *consensus.Tx, op *cassnetv1.SetServerState) error {
	w := s.write(tx)
	old, ok := w.servers.Get(serverKey(op.GetTenant(), op.GetId()))
	if !ok {
		return notFound(op.GetTenant(), op.GetId())
	}
	if want := op.GetIfState(); want != "" && old.State != want {
		return consensus.NewError(consensus.ErrConflict, "server %q is %s, not %s", op.GetId(), old.State, want)
	}
	if op.IfAllocationId != nil && old.AllocationID != op.GetIfAllocationId() {
		return consensus.NewError(consensus.ErrConflict, "server %q holds allocation %q, not %q", op.GetId(), old.AllocationID, op.GetIfAllocationId())
	}
	to := op.GetState()
	if err := transition(old.State, to); err != nil {
		return err
	}
	if to == StateShutdown {
		w.remove(old)
		srv := old.clone()
		srv.State = StateShutdown
		tx.Emit(stateEvent(srv, old.State))
		return nil
	}
	if to == StateAllocated && old.State == StateAllocated {
		if old.AllocationID == op.GetAllocationId() {
			return nil // a retry of the same self-allocation
		}
		return consensus.NewError(consensus.ErrConflict, "server %q is already allocated (%s)", op.GetId(), old.AllocationID)
	}
	if to == old.State && to != StateReserved {
		return nil // nothing changes; not an event
	}
	srv := old.clone()
	srv.State, srv.UpdatedAt, srv.ReservedUntil = to, tx.Time, nil
	if to != StateAllocated {
		srv.AllocationID, srv.Annotations = "", nil
	}
	switch to {
	case StateReserved:
		until := tx.Time.Add(secs(op.GetReserveSeconds()))
		srv.ReservedUntil = &until
	case StateAllocated:
		if _, dup := w.allocations.Get(table.Key(op.GetTenant(), op.GetAllocationId())); dup {
			return consensus.NewError(consensus.ErrConflict, "allocation %q already exists", op.GetAllocationId())
		}
		a := newAllocation(tx, srv, op.GetAllocationId(), nil, nil, "")
		srv.AllocationID = a.ID
		w.putAllocation(a)
		tx.Emit(allocationEvent(a, "server="+srv.ID+" self"))
	}
	w.put(old, srv)
	tx.Emit(stateEvent(srv, old.State))
	return nil
}

func (s *Store) players(tx *consensus.Tx, op *cassnetv1.UpdateServerPlayers) error {
	w := s.write(tx)
	for _, e := range op.GetEntries() {
		old, ok := w.servers.Get(serverKey(e.GetTenant(), e.GetId()))
		if !ok || old.Players == e.GetPlayers() {
			continue // gone since, or unchanged: a count never fails
		}
		srv := old.clone()
		srv.Players = e.GetPlayers()
		w.put(old, srv)
	}
	return nil
}

func (s *Store) labels(tx *consensus.Tx, op *cassnetv1.SetServerLabels) error {
	w := s.write(tx)
	old, ok := w.servers.Get(serverKey(op.GetTenant(), op.GetId()))
	if !ok {
		return notFound(op.GetTenant(), op.GetId())
	}
	srv := old.clone()
	if srv.Labels == nil {
		srv.Labels = map[string]string{}
	}
	maps.Copy(srv.Labels, op.GetSet())
	for _, k := range op.GetRemove() {
		delete(srv.Labels, k)
	}
	if len(srv.Labels) > MaxLabels {
		return invalid("labels: at most %d", MaxLabels)
	}
	srv.UpdatedAt = tx.Time
	w.put(old, srv)
	tx.Emit(consensus.Event{Action: "server.labels_changed", Tenant: srv.Tenant, Target: srv.ID, Operational: true})
	return nil
}

func (s *Store) removeServer(tx *consensus.Tx, op *cassnetv1.RemoveServer) error {
	w := s.write(tx)
	old, ok := w.servers.Get(serverKey(op.GetTenant(), op.GetId()))
	if !ok {
		return notFound(op.GetTenant(), op.GetId())
	}
	w.remove(old)
	srv := old.clone()
	srv.State = StateShutdown
	tx.Emit(stateEvent(srv, old.State))
	return nil
}

// markNode marks every server of a failed node unhealthy or lost (the
// action names the state), or removes them.
func (s *Store) markNode(tx *consensus.Tx, op *cassnetv1.MarkNodeServers) error {
	if op.GetAction() == StateLost && tx.StateVersion() < consensus.StateVersionManagement {
		return consensus.NewError(consensus.ErrStateVersion, "marking servers lost needs state version %d; the cluster is at %d until every server is upgraded",
			consensus.StateVersionManagement, tx.StateVersion())
	}
	w := s.write(tx)
	var keys []string
	w.byNode.Walk(table.Prefix(op.GetNode()), func(k string, _ struct{}) bool { keys = append(keys, k); return true })
	for _, k := range keys {
		rest := k[len(table.Prefix(op.GetNode())):]
		old, ok := w.servers.Get(rest)
		if !ok {
			continue
		}
		if op.GetAction() == "remove" {
			w.remove(old)
			srv := old.clone()
			srv.State = StateShutdown
			tx.Emit(stateEvent(srv, old.State))
			continue
		}
		to := op.GetAction()
		if old.State == to {
			continue
		}
		srv := old.clone()
		srv.State, srv.UpdatedAt, srv.ReservedUntil, srv.AllocationID, srv.Annotations = to, tx.Time, nil, "", nil
		w.put(old, srv)
		tx.Emit(stateEvent(srv, old.State))
	}
	return nil
}

func (s *Store) setSchedulable(tx *consensus.Tx, op *cassnetv1.SetNodeSchedulable) error {
	w := s.write(tx)
	_, drained := w.nodes.Get(op.GetNode())
	action := "node.uncordon"
	if op.GetSchedulable() {
		if drained {
			w.nodes.Delete(op.GetNode())
		}
	} else {
		action = "node.drain"
		w.nodes.Put(op.GetNode(), NodeState{Node: op.GetNode(), Schedulable: false, UpdatedAt: tx.Time, UpdatedBy: tx.Actor})
	}
	tx.Emit(consensus.Event{Action: action, Target: op.GetNode()})
	return nil
}

func allocationEvent(a *Allocation, detail string) consensus.Event {
	return consensus.Event{Action: "allocation.created", Tenant: a.Tenant, Target: a.ID, Detail: detail, Operational: true,
		Data: map[string]string{"allocation_id": a.ID, "server_id": a.ServerID, "project_id": a.Project, "fleet": a.Fleet,
			"node": a.Node, "address": a.Address}}
}
