package consensus

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// leadershipLoop watches for this node gaining or losing leadership. On
// gaining it, it runs a barrier so that everything committed in earlier
// terms is applied before the node serves leader reads, then runs
// autopilot until leadership is lost.
func (s *Store) leadershipLoop(ctx context.Context) {
	obs := make(chan raft.Observation, 16)
	observer := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(observer)
	defer s.raft.DeregisterObserver(observer)

	var (
		leadCancel context.CancelFunc
		leadDone   chan struct{}
	)
	stopLeading := func() {
		if leadCancel != nil {
			leadCancel()
			<-leadDone
			leadCancel = nil
		}
		s.leaderReadyTerm.Store(0)
	}
	defer stopLeading()

	check := time.NewTicker(500 * time.Millisecond)
	defer check.Stop()
	for {
		isLeader := s.raft.State() == raft.Leader
		switch {
		case isLeader && leadCancel == nil:
			lctx, cancel := context.WithCancel(ctx)
			leadCancel, leadDone = cancel, make(chan struct{})
			go func() {
				defer close(leadDone)
				s.lead(lctx)
			}()
		case !isLeader && leadCancel != nil:
			s.logger.Info("lost leadership")
			stopLeading()
		}
		select {
		case <-ctx.Done():
			return
		case <-obs:
		case <-check.C:
		}
	}
}

// lead runs while this node is leader.
func (s *Store) lead(ctx context.Context) {
	for ctx.Err() == nil {
		if err := s.raft.Barrier(applyTimeout).Error(); err != nil {
			s.logger.Warn("leadership barrier failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		break
	}
	if ctx.Err() != nil {
		return
	}
	term := s.raft.CurrentTerm()
	s.leaderReadyTerm.Store(term)
	s.logger.Info("established leadership", "term", term, "index", s.fsm.applied.Index())
	newAutopilot(s).run(ctx)
}

// HandOff prepares this server to stop while keeping its seat in the Raft
// configuration, the way a Consul server stops on SIGTERM: from now on it
// refuses requests that need the cluster (ErrShuttingDown) and reports not
// ready, so clients move elsewhere, and if it is the leader with other
// voters it transfers leadership, so writes pause for an election round
// trip instead of an election timeout. Restarted on the same data dir it
// resumes as the voter (or non-voter) it was. It does not shut the store
// down, and leaving is Leave's job.
func (s *Store) HandOff(ctx context.Context) error {
	s.leaving.Store(true)
	if !s.IsLeader() {
		return nil
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	others := 0
	for _, srv := range f.Configuration().Servers {
		if srv.ID != raft.ServerID(s.cfg.NodeID) && srv.Suffrage == raft.Voter {
			others++
		}
	}
	if others == 0 {
		return nil
	}
	s.logger.Info("stopping: transferring leadership")
	done := make(chan error, 1)
	go func() { done <- s.raft.LeadershipTransfer().Error() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("transfer leadership: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transfer leadership: %w", ctx.Err())
	}
}
