package gameserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// Replication timing.
const (
	// FlushInterval is how often the node replicates changed player counts,
	// all of them in one UpdateServerPlayers.
	FlushInterval = time.Second
	// ReconcileInterval is how often the node re-asserts its servers'
	// replicated records.
	ReconcileInterval = 2 * time.Second
	// DefaultReapGrace is how long a failed member's servers stay
	// unhealthy before the leader removes them.
	DefaultReapGrace = 60 * time.Second
	// proposeTimeout bounds one proposal of a loop or an RPC.
	proposeTimeout = 5 * time.Second
)

// propose sends one command through the consensus store. Without a store
// it does nothing.
func (s *Server) propose(ctx context.Context, actor string, cmd *cassnetv1.Command) error {
	if s.store == nil {
		return nil
	}
	cmd.Version, cmd.Actor = consensus.CommandVersion, actor
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	if _, err := s.store.Apply(ctx, cmd); err != nil {
		return fmt.Errorf("propose %T: %w", cmd.GetOp(), err)
	}
	return nil
}

// refused reports whether a proposal failed for good (the command is
// malformed or conflicts with the record), as opposed to failing for now
// (no leader, a timeout, a cluster not yet at state version 2), which the
// reconcile loop repairs.
func refused(err error) bool {
	if errors.Is(err, consensus.ErrInvalid) {
		return true
	}
	// The state-version gate (consensus.ErrStateVersion) passes once the
	// cluster is upgraded: not refused.
	return errors.Is(err, consensus.ErrConflict)
}

// proposalStatus is a refused proposal as a gRPC status.
func proposalStatus(err error) error {
	msg := err.Error()
	if e := (*consensus.Error)(nil); errors.As(err, &e) {
		msg = e.Message
	}
	switch {
	case errors.Is(err, consensus.ErrInvalid):
		return status.Error(codes.InvalidArgument, msg)
	case errors.Is(err, consensus.ErrConflict):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, consensus.ErrNotFound):
		return status.Error(codes.NotFound, msg)
	}
	return status.Errorf(codes.Unavailable, "replicate: %v", err)
}

func registerCmd(in Info, state string) *cassnetv1.Command {
	return &cassnetv1.Command{Op: &cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{
		Tenant: in.Tenant, Project: in.ProjectID, Id: in.ID, Node: in.Node, Address: in.Address,
		Ports: maps.Clone(in.Ports), Labels: maps.Clone(in.Labels), Capacity: in.Capacity, State: state,
	}}}
}

func stateCmd(tenant, id, state string, reserve uint32, allocID string) *cassnetv1.Command {
	return &cassnetv1.Command{Op: &cassnetv1.Command_SetServerState{SetServerState: &cassnetv1.SetServerState{
		Tenant: tenant, Id: id, State: state, ReserveSeconds: reserve, AllocationId: allocID,
	}}}
}

// readyCmd returns the server to the pool only while it holds ending, the
// allocation its game server last ended ("" for none).
func readyCmd(tenant, id, ending string) *cassnetv1.Command {
	cmd := stateCmd(tenant, id, servers.StateReady, 0, "")
	cmd.GetSetServerState().IfAllocationId = &ending
	return cmd
}

// propLock is the server's proposal lock, or nil if it is not registered.
func (s *Server) propLock(tenant, id string) *sync.Mutex {
	var mu *sync.Mutex
	s.reg.with(tenant, id, func(e *entry) { mu = e.prop })
	return mu
}

// lifecycle proposes cmd for one server on behalf of an RPC, holding the
// server's proposal lock so that no reconcile proposal interleaves, then
// runs after on the entry (unless the proposal was refused). A proposal
// that failed for now marks the entry dirty and succeeds: the reconcile
// loop replicates the local state later. A refused one is returned as a
// gRPC status. Without a store only after runs.
func (s *Server) lifecycle(ctx context.Context, tenant, id string, cmd *cassnetv1.Command, after func(e *entry)) error {
	mu := s.propLock(tenant, id)
	if mu == nil {
		return errNoServer(id)
	}
	mu.Lock()
	defer mu.Unlock()
	var err error
	if s.store != nil {
		err = s.propose(ctx, principal(ctx).Actor(), cmd)
	}
	s.reg.with(tenant, id, func(e *entry) {
		e.touched = time.Now()
		if err != nil && !refused(err) {
			e.dirty = true
		}
		if (err == nil || !refused(err)) && after != nil {
			after(e)
		}
	})
	if err == nil {
		return nil
	}
	if refused(err) {
		return proposalStatus(err)
	}
	s.log.Warn("game server: lifecycle not replicated yet; will retry", "tenant", tenant, "server", id, "err", err)
	return nil
}

// startLoops starts the loops that keep the replicated records in step
// with this node's servers. Stop ends them (s.ctx) and waits.
func (s *Server) startLoops() {
	s.loops.Add(1)
	go s.healthLoop()
	if s.store == nil {
		return
	}
	s.loops.Add(3)
	go s.flushLoop()
	go s.reconcileLoop()
	go s.reapLoop()
}

// every runs fn every d until the server stops.
func (s *Server) every(d time.Duration, fn func()) {
	defer s.loops.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (s *Server) actor() string { return "node:" + s.node }

// healthLoop marks a server unhealthy once three health intervals pass
// without a ping (counted from its registration if it never pinged).
// Health restores it on the next ping.
func (s *Server) healthLoop() {
	s.every(s.interval/2, func() {
		type late struct{ tenant, id string }
		var due []late
		now := time.Now()
		s.reg.mu.Lock()
		for k, e := range s.reg.servers {
			last := e.info.RegisteredAt
			if e.info.LastHealth != nil {
				last = *e.info.LastHealth
			}
			if !e.unhealthy && now.Sub(last) >= 3*s.interval {
				e.unhealthy = true
				due = append(due, late{k.tenant, k.id})
			}
		}
		s.reg.mu.Unlock()
		for _, l := range due {
			s.log.Warn("game server missed its health deadline", "tenant", l.tenant, "server", l.id)
			mu := s.propLock(l.tenant, l.id)
			if mu == nil {
				continue
			}
			mu.Lock()
			if err := s.propose(s.ctx, s.actor(), stateCmd(l.tenant, l.id, servers.StateUnhealthy, 0, "")); err != nil {
				s.log.Debug("game server: unhealthy not replicated; reconcile retries", "server", l.id, "err", err)
			}
			mu.Unlock()
		}
	})
}

// pinged records a health ping; the first ping after the deadline passed
// restores the server's replicated state.
func (s *Server) pinged(e *entry, now time.Time) (restore bool) {
	e.info.LastHealth = &now
	if e.unhealthy {
		e.unhealthy, e.dirty = false, true
		return true
	}
	return false
}

// flushLoop replicates the player counts that changed, in one command.
func (s *Server) flushLoop() {
	s.every(FlushInterval, func() {
		var entries []*cassnetv1.UpdateServerPlayers_Entry
		s.reg.mu.Lock()
		for k, e := range s.reg.servers {
			if n := len(e.players); n != e.flushed && (e.flushed >= 0 || n > 0) {
				entries = append(entries, &cassnetv1.UpdateServerPlayers_Entry{Tenant: k.tenant, Id: k.id, Players: uint32(n)})
			}
		}
		s.reg.mu.Unlock()
		if len(entries) == 0 {
			return
		}
		cmd := &cassnetv1.Command{Op: &cassnetv1.Command_UpdateServerPlayers{UpdateServerPlayers: &cassnetv1.UpdateServerPlayers{Entries: entries}}}
		if err := s.propose(s.ctx, s.actor(), cmd); err != nil {
			s.log.Debug("game server: player counts not replicated; retrying", "err", err)
			return
		}
		s.reg.mu.Lock()
		for _, en := range entries {
			if e, ok := s.reg.servers[key{en.GetTenant(), en.GetId()}]; ok {
				e.flushed = int(en.GetPlayers())
			}
		}
		s.reg.mu.Unlock()
	})
}

// reconcileLoop re-asserts this node's servers in the replicated state.
func (s *Server) reconcileLoop() {
	s.every(ReconcileInterval, func() { s.reconcile(s.ctx, nil) })
}

// repair is one proposal the reconcile pass decided on.
type repair struct {
	tenant, id string
	cmds       []*cassnetv1.Command
}

// reconcile compares each local server with its replicated record:
//   - missing (never replicated, or removed after the mesh thought this
//     node failed): register it again, then replicate its local state;
//   - dirty (a change that could not be replicated) or unhealthy in the
//     record while it pings: replicate the local state;
//   - otherwise the local state follows the record (REST allocations,
//     reservations running out, drains).
//
// An allocated server marked unhealthy stays so until its game server
// calls Ready: its allocation ended in the record, and re-allocating it
// would hand a running match a new id (see doc.go).
//
// With only set, it looks at that server alone (a ping after the health
// deadline). A server whose proposal lock is held (an RPC is proposing)
// is left for the next pass.
func (s *Server) reconcile(ctx context.Context, only *key) {
	type candidate struct {
		k  key
		mu *sync.Mutex
	}
	var cands []candidate
	s.reg.mu.Lock()
	for k, e := range s.reg.servers {
		if only == nil || k == *only {
			cands = append(cands, candidate{k, e.prop})
		}
	}
	s.reg.mu.Unlock()
	for _, c := range cands {
		if !c.mu.TryLock() {
			continue // an RPC is proposing for it: look again next time
		}
		s.repair(ctx, c.k, c.mu)
		c.mu.Unlock()
	}
}

// repair decides and proposes what one server's record needs, holding its
// proposal lock (mu).
func (s *Server) repair(ctx context.Context, k key, mu *sync.Mutex) {
	var todo []repair
	s.reg.mu.Lock()
	// Holding mu, no proposal of this node for the server is in flight, and
	// every earlier one is applied here: the record read now is not older
	// than anything this node did to it.
	if e, ok := s.reg.servers[k]; ok && e.prop == mu {
		rec, ok := s.records.Server(k.tenant, k.id)
		switch {
		case !ok || rec.Node != s.node:
			todo = append(todo, repair{k.tenant, k.id, s.assert(e, nil)})
		case e.unhealthy:
			// The health loop owns it; its record should say unhealthy.
			if rec.State != servers.StateUnhealthy {
				todo = append(todo, repair{k.tenant, k.id, []*cassnetv1.Command{stateCmd(k.tenant, k.id, servers.StateUnhealthy, 0, "")}})
			}
		case e.dirty || rec.State == servers.StateUnhealthy || rec.State == servers.StateLost:
			// A lost record whose game server is in a match here (its node
			// was cut off, not dead) is re-asserted too, as draining: the
			// match goes on out of the pool, and nothing retires or
			// removes it (a lost record on an alive node would be).
			if e.state != cassnetv1.ServerState_SERVER_STATE_ALLOCATED || e.dirty || rec.State == servers.StateLost {
				todo = append(todo, repair{k.tenant, k.id, s.assert(e, &rec)})
			}
		default:
			e.follow(rec)
		}
	}
	s.reg.mu.Unlock()
	for _, r := range todo {
		if len(r.cmds) == 0 {
			continue
		}
		var err error
		for _, c := range r.cmds {
			if err = s.propose(ctx, s.actor(), c); err != nil {
				break
			}
		}
		s.reg.with(r.tenant, r.id, func(e *entry) {
			e.touched = time.Now()
			if err == nil || refused(err) {
				e.dirty = false
			}
		})
		if err != nil {
			s.log.Debug("game server: reconcile failed", "tenant", r.tenant, "server", r.id, "err", err)
		} else {
			s.log.Info("game server: replicated record re-asserted", "tenant", r.tenant, "server", r.id)
		}
	}
}

// assert is the commands that make the record say what the entry says:
// registration (if rec is nil: missing), labels and the state. Called
// with the lock held.
func (s *Server) assert(e *entry, rec *servers.Server) []*cassnetv1.Command {
	in := e.info
	in.Ports, in.Labels = maps.Clone(in.Ports), maps.Clone(in.Labels)
	var cmds []*cassnetv1.Command
	st := stateName(e.state)
	if rec == nil || e.state == cassnetv1.ServerState_SERVER_STATE_STARTING {
		cmds = append(cmds, registerCmd(in, servers.StateStarting))
	} else if !maps.Equal(rec.Labels, in.Labels) {
		op := &cassnetv1.SetServerLabels{Tenant: in.Tenant, Id: in.ID, Set: in.Labels}
		for k := range rec.Labels {
			if _, ok := in.Labels[k]; !ok {
				op.Remove = append(op.Remove, k)
			}
		}
		if len(op.Set)+len(op.Remove) > 0 {
			cmds = append(cmds, &cassnetv1.Command{Op: &cassnetv1.Command_SetServerLabels{SetServerLabels: op}})
		}
	}
	switch e.state {
	case cassnetv1.ServerState_SERVER_STATE_READY:
		// Re-sent as the same compare-and-set: a record that holds an
		// allocation the game server has not ended (a match that began
		// after its Ready applied) refuses it.
		cmds = append(cmds, readyCmd(in.Tenant, in.ID, e.ending))
	case cassnetv1.ServerState_SERVER_STATE_DRAINING:
		cmds = append(cmds, stateCmd(in.Tenant, in.ID, st, 0, ""))
	case cassnetv1.ServerState_SERVER_STATE_RESERVED:
		if left := time.Until(e.reserved); left >= time.Second {
			cmds = append(cmds, stateCmd(in.Tenant, in.ID, st, uint32(left/time.Second), ""))
		} else {
			cmds = append(cmds, readyCmd(in.Tenant, in.ID, "")) // a reservation holds no allocation
		}
	case cassnetv1.ServerState_SERVER_STATE_ALLOCATED:
		// The match goes on; it stays out of the pool until Ready.
		cmds = append(cmds, stateCmd(in.Tenant, in.ID, servers.StateDraining, 0, ""))
	}
	return cmds
}

// follow makes the entry's state the record's. Called with the lock held.
func (e *entry) follow(rec servers.Server) {
	st := stateOf(rec.State)
	if st == cassnetv1.ServerState_SERVER_STATE_UNSPECIFIED || st == cassnetv1.ServerState_SERVER_STATE_UNHEALTHY {
		return
	}
	e.state, e.info.State = st, rec.State
	e.info.Labels = maps.Clone(rec.Labels)
	if rec.ReservedUntil != nil {
		e.reserved = *rec.ReservedUntil
	}
}
