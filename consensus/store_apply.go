package consensus

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Apply proposes cmd through Raft. On a follower it forwards the command
// to the leader over the internal RPC, then waits until the entry has been
// applied locally, so the caller can read its own write from State().
//
// An error wrapping ErrIndeterminate means the entry may or may not have
// been committed: the caller must not report it as "not written".
func (s *Store) Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error) {
	if s.leaving.Load() {
		return 0, newError(ErrShuttingDown, "this node is leaving the cluster; use another node")
	}
	if err := s.fsm.ValidateCommand(cmd); err != nil {
		return 0, err
	}
	hold, cancel := context.WithTimeout(ctx, holdTimeout)
	defer cancel()
	for {
		addr, id := s.raft.LeaderWithID()
		switch {
		case id == raft.ServerID(s.cfg.NodeID):
			idx, err := s.applyLocal(ctx, cmd)
			if errors.Is(err, ErrNoLeader) && hold.Err() == nil {
				break // lost leadership before proposing; retry
			}
			return idx, err
		case addr != "":
			idx, err := s.forwardApply(ctx, string(addr), cmd)
			if errors.Is(err, ErrNoLeader) && hold.Err() == nil {
				break
			}
			if err != nil {
				return idx, err
			}
			return idx, s.waitLocal(ctx, idx)
		}
		select {
		case <-hold.Done():
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, newError(ErrNoLeader, "no leader elected within %s", holdTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitLocal waits, for a bounded time, until the local state machine has
// applied idx. The write is committed either way; a lagging follower only
// delays read-your-writes.
func (s *Store) waitLocal(ctx context.Context, idx uint64) error {
	wctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	if err := s.fsm.applied.WaitIndex(wctx, idx); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// unsafeAckGrace is how long a leader with Config.UnsafeAckBeforeCommit
// waits for a commit before acknowledging anyway. Without it every create
// would answer 404, because the API reads a new ban back from the local
// state, which has not applied it yet; with it, uncontended writes behave
// normally and a partitioned leader acknowledges writes it cannot commit.
const unsafeAckGrace = 100 * time.Millisecond

// applyLocal proposes cmd on this node, which must be the leader. It
// stamps the leader's clock into the command.
func (s *Store) applyLocal(ctx context.Context, cmd *cassnetv1.Command) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, newError(ErrNoLeader, "this node is not the leader")
	}
	if err := s.fsm.ValidateCommand(cmd); err != nil {
		return 0, err
	}
	cmd.TimeUnixNano = time.Now().UnixNano()
	data, err := EncodeCommand(cmd)
	if err != nil {
		return 0, err
	}
	f := s.raft.Apply(data, applyTimeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	var unsafeAck <-chan time.Time // nil, so never ready, unless test-only
	if s.cfg.UnsafeAckBeforeCommit {
		unsafeAck = time.After(unsafeAckGrace)
	}
	select {
	case err = <-done:
	case <-unsafeAck:
		// Test-only (see Config): acknowledged although not committed.
		return 0, nil
	case <-ctx.Done():
		// The entry is in flight; its outcome is unknown to this caller.
		return 0, newError(ErrIndeterminate, "request cancelled after the write was proposed")
	}
	if err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout),
			errors.Is(err, raft.ErrLeadershipTransferInProgress):
			// Refused before the entry was appended: nothing was written,
			// and Apply's hold loop retries against the next leader.
			return 0, newError(ErrNoLeader, "%v", err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return 0, newError(ErrIndeterminate, "node shut down during the write")
		default:
			return 0, newError(ErrIndeterminate, "%v", err)
		}
	}
	res, ok := f.Response().(*ApplyResult)
	if !ok {
		return f.Index(), newError(ErrIndeterminate, "unexpected apply response %T", f.Response())
	}
	return res.Index, res.Err
}

// forwardGrace is how long a forwarded write may still be answered after
// this node stopped seeing its target as the leader while no other leader
// is known; forwardHandover once another leader is known (the old one can
// no longer commit, and a graceful one answers at once).
const (
	forwardGrace    = 500 * time.Millisecond
	forwardHandover = 100 * time.Millisecond
)

// Raft timing (issue 17: the first write within 3 s of the leader being
// partitioned away). A follower starts an election when its heartbeat
// timer, randomised in [T, 2T), fires and it has not heard from the
// leader for T; it may therefore notice up to 3T after the cut. And a
// follower that still believes in the old leader refuses to vote, so in
// a 3-node cluster the election waits for both followers' timers, and a
// refused candidate retries after another [T, 2T) election timeout. With
// raft's defaults (T = 1 s) the partitions of the chaos harness took up
// to 3.2 s to the first write; with 500 ms (the leader sends heartbeats
// every T/10, 50 ms) the worst case is about half. The risk is a false
// election when a leader is starved of CPU for more than 500 ms:
// cassnet bench counts leader changes during its saturating load phases
// (docs/benchmarks.md). Consul's fastest setting (raft_multiplier 1) is
// 1 s; etcd's default election timeout is 1 s with 100 ms heartbeats.
const (
	raftHeartbeatTimeout = 500 * time.Millisecond
	raftElectionTimeout  = 500 * time.Millisecond
)

// forwardApply sends cmd to the leader at addr.
func (s *Store) forwardApply(ctx context.Context, addr string, cmd *cassnetv1.Command) (uint64, error) {
	data, err := EncodeCommand(cmd)
	if err != nil {
		return 0, err
	}
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
	client, err := s.clients.ready(cctx, addr)
	ccancel()
	if err != nil {
		// Nothing was sent, so the caller may safely retry.
		return 0, newError(ErrNoLeader, "connect to leader: %v", err)
	}
	rctx, cancel := context.WithTimeout(ctx, applyTimeout+2*time.Second)
	defer cancel()
	// A leader cut off by a partition never answers: without this the
	// forward waited out the caller's timeout (5.3 s to the first write
	// after a partition, issue 17). Once this node no longer sees addr as
	// the leader (its election timer fired, or another leader won), the
	// forward gets forwardGrace more (a leader that handed over
	// gracefully still answers; forwardHandover once another leader is
	// known) and is then abandoned. Its outcome is
	// still unknown (the old leader may have appended it), so it is
	// reported as indeterminate, never retried here: the caller decides,
	// as after a timeout, only sooner.
	var moved atomic.Bool
	go func() {
		tick := time.NewTicker(leaderPoll)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			cur, _ := s.raft.LeaderWithID()
			if string(cur) == addr {
				continue
			}
			// Wait out the grace, cut short once another leader is known.
			deadline := time.Now().Add(forwardGrace)
			for cur == "" && time.Now().Before(deadline) {
				select {
				case <-rctx.Done():
					return
				case <-tick.C:
				}
				cur, _ = s.raft.LeaderWithID()
			}
			if string(cur) == addr {
				continue // it came back (or was re-elected): keep waiting for its answer
			}
			if h := time.Now().Add(forwardHandover); cur != "" && h.Before(deadline) {
				deadline = h
			}
			select {
			case <-rctx.Done():
			case <-time.After(time.Until(deadline)):
				moved.Store(true)
				cancel()
			}
			return
		}
	}()
	resp, err := client.Apply(rctx, &cassnetv1.ApplyRequest{Command: data})
	if err != nil {
		if moved.Load() && ctx.Err() == nil {
			return 0, newError(ErrIndeterminate, "the leader changed while the write was forwarded to it; it may or may not have been committed")
		}
		// The request may have reached the leader before the failure.
		return 0, newError(ErrIndeterminate, "forward to leader: %v", err)
	}
	if resp.GetErrorCode() != "" {
		return resp.GetIndex(), codeError(resp.GetErrorCode(), resp.GetErrorMessage())
	}
	return resp.GetIndex(), nil
}
