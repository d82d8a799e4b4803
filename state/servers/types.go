// Package servers owns the replicated lifecycle of game servers and their
// allocation to matches: each server's identity, node, address, ports,
// labels, capacity, coalesced player count and state; the allocations
// handed out and their idempotency keys; and which nodes are drained. An
// allocation is decided inside Apply by a compare-and-set on that
// lifecycle, so whichever node takes the request, no two allocations ever
// get the same ready server.
//
// It must not talk to game servers (package gameserver does, on each
// node), keep health pings or metrics (they stay node-local), or touch
// HTTP or Raft.
package servers

import (
	"maps"
	"time"
)

// Server states.
const (
	StateStarting  = "starting"
	StateReady     = "ready"
	StateReserved  = "reserved"
	StateAllocated = "allocated"
	StateDraining  = "draining"
	StateShutdown  = "shutdown"
	StateUnhealthy = "unhealthy"
	// StateLost is a server of a node the mesh declared failed (killed,
	// crashed or cut off by a partition): MarkNodeServers "lost" sets it,
	// and only that command does. A lost server is never allocated and
	// does not count toward a fleet's ready buffer, so the buffer refills
	// on other nodes; its record is removed after the dead-server grace,
	// or, if its node comes back first with the process still running,
	// the node re-asserts the record (package gameserver).
	StateLost = "lost"
)

// Strategies.
const (
	// StrategyPacked fills the busiest nodes first, so that empty nodes can
	// be drained or scaled down.
	StrategyPacked = "packed"
	// StrategyDistributed spreads allocations over the least busy nodes.
	StrategyDistributed = "distributed"
)

// Server is the replicated record of one game server.
type Server struct {
	ID       string            `json:"id"`
	Tenant   string            `json:"tenant"`
	Project  string            `json:"project_id,omitempty"`
	Fleet    string            `json:"fleet,omitempty"`
	Node     string            `json:"node"`
	Address  string            `json:"address,omitempty"`
	Ports    map[string]uint32 `json:"ports,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Capacity uint32            `json:"capacity"`
	// Players is the coalesced player count the node reports (at most
	// about once a second per server).
	Players uint32 `json:"players"`
	State   string `json:"state"`
	// ReservedUntil is set while State is reserved.
	ReservedUntil *time.Time `json:"reserved_until,omitempty"`
	// AllocationID and Annotations are those of the allocation the server
	// holds, while allocated.
	AllocationID string            `json:"allocation_id,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// FreePlayers is how many more players fit (0 without a capacity).
func (s *Server) FreePlayers() uint32 {
	if s.Players >= s.Capacity {
		return 0
	}
	return s.Capacity - s.Players
}

// clone returns a copy that shares no map with s.
func (s *Server) clone() *Server {
	c := *s
	c.Ports, c.Labels, c.Annotations = maps.Clone(s.Ports), maps.Clone(s.Labels), maps.Clone(s.Annotations)
	if s.ReservedUntil != nil {
		t := *s.ReservedUntil
		c.ReservedUntil = &t
	}
	return &c
}

// Allocation is one server handed out for a match.
type Allocation struct {
	ID             string            `json:"allocation_id"`
	Tenant         string            `json:"tenant"`
	Project        string            `json:"project_id,omitempty"`
	Fleet          string            `json:"fleet,omitempty"`
	ServerID       string            `json:"server_id"`
	Node           string            `json:"node"`
	Address        string            `json:"address,omitempty"`
	Ports          map[string]uint32 `json:"ports"`
	State          string            `json:"state"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	CreatedBy      string            `json:"created_by"`
}

func (a *Allocation) clone() Allocation {
	c := *a
	c.Ports, c.Labels, c.Annotations = maps.Clone(a.Ports), maps.Clone(a.Labels), maps.Clone(a.Annotations)
	return c
}

// NodeState is a node's schedulability. Only drained nodes are stored.
type NodeState struct {
	Node        string    `json:"node"`
	Schedulable bool      `json:"schedulable"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

// Limits.
const (
	MaxSelectors     = 16
	MaxLabels        = 64
	MaxPorts         = 16
	MaxMetadataBytes = 16 << 10
	MaxReserve       = 24 * time.Hour
	// AllocationRetention is how long an allocation, and its idempotency
	// key, is kept.
	AllocationRetention = 24 * time.Hour
	// MaxServersPerTenant bounds a tenant's replicated servers.
	MaxServersPerTenant = 100_000
	maxIDLen            = 128
	maxAddressLen       = 253
	maxPlayerEntries    = 10_000
)
