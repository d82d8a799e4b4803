package gameserver

import (
	"errors"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// reapInterval is how often the leader looks for failed members.
const reapInterval = time.Second

// reapLoop runs on every node and acts only while this node leads: a
// member the mesh declared failed gets its servers marked unhealthy at
// once (MarkNodeServers "lost"), and removed ("remove") if it is
// still failed after the grace period. A new leader starts the grace
// period again from when it first sees the member failed, which only
// delays removal.
func (s *Server) reapLoop() {
	failed := map[string]time.Time{} // member -> first seen failed by this leader
	s.every(reapInterval, func() {
		if s.members == nil || !s.store.IsLeader() {
			clear(failed)
			return
		}
		now := time.Now()
		seen := map[string]bool{}
		for _, m := range s.members.Members() {
			if m.Status != mesh.StatusFailed || m.Name == s.node {
				continue
			}
			seen[m.Name] = true
			since, known := failed[m.Name]
			if !known {
				failed[m.Name], since = now, now
			}
			action := ""
			for _, srv := range s.records.OnNode(m.Name) {
				if now.Sub(since) >= s.grace {
					action = "remove"
					break
				}
				if srv.State != servers.StateLost {
					action = servers.StateLost
				}
			}
			if action == "" {
				continue
			}
			cmd := &cassnetv1.Command{Op: &cassnetv1.Command_MarkNodeServers{MarkNodeServers: &cassnetv1.MarkNodeServers{Node: m.Name, Action: action}}}
			err := s.propose(s.ctx, s.actor(), cmd)
			if action == servers.StateLost && errors.Is(err, consensus.ErrStateVersion) {
				// A cluster still at state version 2 (a rolling upgrade from
				// the release before lost existed): mark them unhealthy, as
				// that release does.
				action = ""
				for _, srv := range s.records.OnNode(m.Name) {
					if srv.State != servers.StateUnhealthy {
						action = servers.StateUnhealthy
					}
				}
				if action == "" {
					continue
				}
				cmd.GetMarkNodeServers().Action = action
				err = s.propose(s.ctx, s.actor(), cmd)
			}
			if err != nil {
				s.log.Warn("game servers of a failed node: mark failed", "node", m.Name, "action", action, "err", err)
				continue
			}
			s.log.Info("game servers of a failed node marked", "node", m.Name, "action", action)
		}
		for name := range failed {
			if !seen[name] {
				delete(failed, name)
			}
		}
	})
}
