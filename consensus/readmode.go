package consensus

import "time"

// Consistency selects how fresh a read must be.
type Consistency int

const (
	// Default reads are answered with the leader's view: a follower first
	// asks the leader for its applied index (no quorum round trip) and
	// waits until it has applied that far. A leader cut off from its
	// peers may serve stale data until its lease runs out.
	Default Consistency = iota
	// Consistent reads make the leader confirm its leadership with a
	// quorum (a barrier through the log) before the index is used.
	Consistent
	// Stale reads are answered from the local state machine of any node
	// with no network hop. This is the path for ban checks.
	Stale
)

func (c Consistency) String() string {
	switch c {
	case Consistent:
		return "consistent"
	case Stale:
		return "stale"
	default:
		return "default"
	}
}

// ReadMeta describes the freshness of a read, for the X-Cass-* headers.
type ReadMeta struct {
	// Index is the applied index of the local state when the read ran.
	Index uint64
	// KnownLeader is true if this node knows a leader.
	KnownLeader bool
	// LastContact is the time since this node last heard from the leader
	// (zero on the leader itself).
	LastContact time.Duration
}

// RaftInfo is a snapshot of the local Raft status, for /v1/cluster/raft and
// metrics.
type RaftInfo struct {
	ID            string        `json:"id"`
	State         string        `json:"state"`
	LeaderID      string        `json:"leader_id"`
	LeaderAddr    string        `json:"leader_addr"`
	Term          uint64        `json:"term"`
	LastIndex     uint64        `json:"last_index"`
	CommitIndex   uint64        `json:"commit_index"`
	AppliedIndex  uint64        `json:"applied_index"`
	LastContact   time.Duration `json:"-"`
	LastContactMs int64         `json:"last_contact_ms"`
	// StateHash is set by /v1/cluster/raft only (Store.StateHash).
	StateHash string `json:"state_hash"`
	// StateVersion is the replicated state version (see engine.go).
	StateVersion uint32         `json:"state_version"`
	Servers      []ServerConfig `json:"servers"`
}

// ServerConfig is one entry of the Raft configuration.
type ServerConfig struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // "voter" or "nonvoter"
	Leader   bool   `json:"leader"`
}
