package consensus

import (
	"context"
	"errors"

	"github.com/cassandranet/cassnet/mesh"
)

// RemovePeer removes a server from the Raft configuration, through the
// leader, by its Raft ID or its address (as `consul operator raft
// remove-peer`), and returns its ID. It is for a server that is gone but
// that autopilot keeps: failed for less than the dead-server grace, or a
// voter whose removal autopilot refuses because the healthy voters alone
// would not form a quorum. A server this node sees alive in gossip is
// refused with ErrConflict, since autopilot's next pass would add it back
// as a non-voter: make it leave instead. The leader cannot remove itself.
func (s *Store) RemovePeer(ctx context.Context, idOrAddr string) (string, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", newError(ErrNoLeader, "read configuration: %v", err)
	}
	id := ""
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == idOrAddr || string(srv.Address) == idOrAddr {
			id = string(srv.ID)
			break
		}
	}
	if id == "" {
		return "", newError(ErrNotFound, "no server %q in the raft configuration", idOrAddr)
	}
	for _, m := range s.cfg.Members.Members() {
		if m.ID == id && m.Status == mesh.StatusAlive {
			return "", newError(ErrConflict, "%s (%s) is alive in gossip: autopilot would add it back; make it leave instead (cassnet leave)", m.Name, id)
		}
	}
	if s.IsLeader() {
		return id, s.removeServer(id)
	}
	addr, _ := s.raft.LeaderWithID()
	if addr == "" {
		return "", newError(ErrNoLeader, "no leader to remove %s through", id)
	}
	if err := s.askRemove(ctx, string(addr), id); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return "", err
		}
		return "", newError(ErrNoLeader, "%v", err)
	}
	s.logger.Info("removed a raft peer", "id", id)
	return id, nil
}
