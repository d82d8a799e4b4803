package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// restoreTimeout bounds raft's part of a restore: writing the snapshot
// locally, restoring the FSM and committing the no-op that follows.
const restoreTimeout = 2 * time.Minute

// SaveSnapshot writes a snapshot archive of the replicated state to w.
// It first runs a consistent read, so the leader confirms its leadership
// with a quorum and this node has applied every write acknowledged before
// the call: the archive holds at least those, on any node. The capture
// itself is local and O(1) (FSM.Snapshot's), and is encoded while Apply
// goes on. meta supplies ClusterID and Node; the rest is filled in.
func (s *Store) SaveSnapshot(ctx context.Context, w io.Writer, meta ArchiveMeta) (ArchiveMeta, error) {
	if _, err := s.Read(ctx, Consistent); err != nil {
		return meta, err
	}
	meta.Term = s.raft.CurrentTerm()
	return s.fsm.WriteArchive(w, meta)
}

// RestoreOptions say which archives RestoreSnapshot accepts.
type RestoreOptions struct {
	// ClusterID is this cluster's ID; an archive of another cluster is
	// refused with ErrConflict unless Force is set.
	ClusterID string
	Force     bool
	// Actor is who asked, for the audit log.
	Actor string
}

// RestoreSnapshot replaces the whole replicated state of the cluster with
// the archive's, through raft's user restore (Raft.Restore, as `consul
// snapshot restore`): the leader installs it in its own FSM and snapshot
// store at a new index past its log, leaving a hole, so every follower
// (and every later joiner) receives it by InstallSnapshot. The Raft
// configuration is kept, so an archive restores into a new cluster as
// well as into the one it came from. A RecordSnapshotRestore entry
// follows, for the audit log and to move every node's applied index past
// the indexes it had before (the restored state's own index may be
// lower).
//
// It runs on the leader only (ErrNoLeader elsewhere). It refuses an
// archive of another cluster (unless forced) and one that does not
// restore into a scratch state machine (ErrInvalid) before touching
// anything. An error wrapping ErrIndeterminate means raft may have
// restored it.
func (s *Store) RestoreSnapshot(ctx context.Context, a *Archive, opts RestoreOptions) error {
	if s.leaving.Load() {
		return newError(ErrShuttingDown, "this node is leaving the cluster; use another node")
	}
	if s.cfg.NewModules == nil {
		return errors.New("consensus: RestoreSnapshot needs Config.NewModules")
	}
	if a.Meta.ClusterID != opts.ClusterID && !opts.Force {
		return newError(ErrConflict, "the snapshot is of cluster %q, this is cluster %q: restore it into its own cluster, or force it", a.Meta.ClusterID, opts.ClusterID)
	}
	if _, _, err := InspectArchive(a, s.cfg.NewModules()); err != nil {
		return newError(ErrInvalid, "%v", err)
	}
	if !s.IsLeader() {
		return newError(ErrNoLeader, "restore runs on the leader; this node is not")
	}
	s.restoreMu.Lock()
	defer s.restoreMu.Unlock()
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: a.Meta.Index, Term: a.Meta.Term, Size: int64(len(a.Body))}
	done := make(chan error, 1)
	go func() { done <- s.raft.Restore(meta, bytes.NewReader(a.Body), restoreTimeout) }()
	select {
	case err := <-done:
		if err != nil {
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
				return newError(ErrNoLeader, "restore: %v", err) // refused before anything changed
			}
			return newError(ErrIndeterminate, "restore: %v", err)
		}
	case <-ctx.Done():
		return newError(ErrIndeterminate, "restore: request cancelled while raft was restoring")
	}
	s.logger.Info("restored a snapshot archive", "cluster_id", a.Meta.ClusterID, "index", a.Meta.Index,
		"state_hash", a.Meta.StateHash, "actor", opts.Actor)
	_, err := s.Apply(ctx, &cassnetv1.Command{
		Version: CommandVersion,
		Actor:   opts.Actor,
		Op: &cassnetv1.Command_RecordSnapshotRestore{RecordSnapshotRestore: &cassnetv1.RecordSnapshotRestore{
			ClusterId: a.Meta.ClusterID, Index: a.Meta.Index, StateHash: a.Meta.StateHash,
		}},
	})
	if err != nil && !errors.Is(err, ErrConflict) { // conflict: a restored state version 1 cluster
		return fmt.Errorf("restored, but recording the restore failed: %w", err)
	}
	return nil
}
