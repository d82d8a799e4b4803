package consensus

import (
	"context"
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
