package consensus

import (
	"context"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// raiseStateVersion proposes SetStateVersion when every server in the
// Raft configuration is healthy and reports that its binary supports a
// higher state version than the cluster's. Servers of a release before
// state versions report 0 and hold the version where it is, so a rolling
// upgrade turns new behaviour on only after its last node is replaced.
// It runs on the leader only, from autopilot's pass.
func (a *autopilot) raiseStateVersion(ctx context.Context, servers []raft.Server, healthy map[raft.ServerID]bool) {
	s := a.s
	cur := s.fsm.engine.committed()
	if cur >= SupportedStateVersion {
		return
	}
	target := uint32(SupportedStateVersion)
	for _, srv := range servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			continue
		}
		if !healthy[srv.ID] {
			return
		}
		target = min(target, a.versions[srv.ID])
	}
	if target <= cur {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.Apply(actx, &cassnetv1.Command{
		Version: CommandVersion,
		Actor:   "autopilot",
		Op:      &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: target}},
	})
	if err != nil {
		s.logger.Warn("autopilot: raising the state version failed", "from", cur, "to", target, "err", err)
		return
	}
	s.logger.Info("autopilot: state version raised: every server supports it", "from", cur, "to", target)
}
