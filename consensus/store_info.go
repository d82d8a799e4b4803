package consensus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// RaftInfo describes the local Raft status and configuration. It leaves
// StateHash empty: the hash covers the whole state and costs tens of
// milliseconds a hundred thousand bans once the state has moved, too much
// for every /v1/members call and metrics scrape. StateHash gives it.
func (s *Store) RaftInfo() RaftInfo {
	addr, id := s.raft.LeaderWithID()
	info := RaftInfo{
		ID:           s.cfg.NodeID,
		State:        s.raft.State().String(),
		LeaderID:     string(id),
		LeaderAddr:   string(addr),
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.fsm.applied.Index(),
		StateVersion: s.fsm.engine.committed(),
	}
	if s.raft.State() != raft.Leader {
		if lc := s.raft.LastContact(); !lc.IsZero() {
			info.LastContact = time.Since(lc)
			info.LastContactMs = info.LastContact.Milliseconds()
		}
	}
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			suffrage := "nonvoter"
			if srv.Suffrage == raft.Voter {
				suffrage = "voter"
			}
			info.Servers = append(info.Servers, ServerConfig{
				ID:       string(srv.ID),
				Address:  string(srv.Address),
				Suffrage: suffrage,
				Leader:   srv.ID == id,
			})
		}
	}
	return info
}

// StateHash is the hash of the local state (FSM.Hash): memoized until the
// state changes, then recomputed over every module.
func (s *Store) StateHash() string { return s.fsm.Hash() }

// removeServer removes id from the configuration. The caller must be the
// leader.
func (s *Store) removeServer(id string) error {
	if id == s.cfg.NodeID {
		return newError(ErrInvalid, "the leader cannot remove itself; transfer leadership first")
	}
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, applyTimeout).Error(); err != nil {
		return newError(ErrNoLeader, "remove server: %v", err)
	}
	return nil
}

// Leave takes this server out of the Raft configuration gracefully: if it
// is the leader it hands leadership to another voter first, then asks the
// leader to remove it. A sole server has nobody to hand over to and just
// stops. Leave does not shut the store down.
func (s *Store) Leave(ctx context.Context) error {
	s.leaving.Store(true)
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
	if s.IsLeader() {
		s.logger.Info("leaving: transferring leadership")
		if err := s.raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("transfer leadership: %w", err)
		}
	}
	for {
		addr, id := s.raft.LeaderWithID()
		if addr != "" && id != raft.ServerID(s.cfg.NodeID) {
			err := s.askRemove(ctx, string(addr), s.cfg.NodeID)
			if err == nil {
				s.logger.Info("left the raft configuration")
				return nil
			}
			s.logger.Warn("leave: remove request failed, retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("leave raft: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// askRemove asks the leader at leader to remove server id.
func (s *Store) askRemove(ctx context.Context, leader, id string) error {
	client, err := s.clients.get(leader)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	_, err = client.RemoveServer(rctx, &cassnetv1.RemoveServerRequest{Id: id})
	if err != nil {
		err = fromStatus(err)
		if errors.Is(err, ErrNoLeader) {
			return err
		}
		return fmt.Errorf("remove request: %w", err)
	}
	return nil
}
