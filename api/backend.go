package api

import (
	"context"
	"io"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Store is the replicated state as the API sees it. consensus.Store
// implements it; unit tests plug in an in-memory one.
//
// All methods are safe for concurrent use.
type Store interface {
	// Apply proposes cmd through Raft, forwarding to the leader if this
	// node is not the leader. It returns the Raft index of the entry once
	// it has been applied on this node, so a read of the domains that follows
	// sees the write. Errors carry consensus error codes (errors.Is with
	// consensus.ErrNotFound, ErrConflict, ErrInvalid, ErrNoLeader,
	// ErrIndeterminate, ErrShuttingDown).
	Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error)
	// Read prepares a read at the given consistency: after it returns nil,
	// the domains are at least as fresh as the mode promises.
	Read(ctx context.Context, c consensus.Consistency) (consensus.ReadMeta, error)
	// Applied is the local state machine's applied index and change
	// notification; the domains' data is read through Config.State.
	Applied() *consensus.Applied
	// RaftInfo describes the local Raft status and configuration, without
	// the state hash; it is cheap.
	RaftInfo() consensus.RaftInfo
	// StateHash is the hash of the local state: a walk of every module
	// once the state has changed, so only /v1/cluster/raft asks for it.
	StateHash() string
	// Ready is true once the node knows a leader and has caught up to the
	// leader's index as of when it started.
	Ready() bool
	// RemovePeer removes a server (by Raft ID or address) from the Raft
	// configuration through the leader and returns its ID.
	RemovePeer(ctx context.Context, idOrAddr string) (string, error)
	// IsLeader reports whether this node is the Raft leader.
	IsLeader() bool
	// SaveSnapshot writes a snapshot archive of the state after a
	// consistent read; RestoreSnapshot replaces the cluster's state with
	// an archive, on the leader only (see consensus.Store).
	SaveSnapshot(ctx context.Context, w io.Writer, meta consensus.ArchiveMeta) (consensus.ArchiveMeta, error)
	RestoreSnapshot(ctx context.Context, a *consensus.Archive, opts consensus.RestoreOptions) error
	// Autopilot is the autopilot configuration in force: the flags with
	// the replicated settings over them.
	Autopilot() consensus.AutopilotConfig
}

// Members lists the gossip membership. mesh.Mesh implements it.
type Members interface {
	Members() []mesh.Member
}

// Agent is the local node's lifecycle, for operator actions such as leave.
type Agent interface {
	// Leave starts a graceful leave: hand over leadership, leave the Raft
	// configuration and the gossip pool, then stop. It returns once the
	// leave has been started.
	Leave(ctx context.Context) error
}
