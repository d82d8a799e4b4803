package mesh

// Status is a member's gossip status.
type Status string

// The statuses a member can have (see the package documentation for how
// they are derived from memberlist).
const (
	// StatusAlive: memberlist considers the member alive.
	StatusAlive Status = "alive"
	// StatusSuspect: this node's probe of the member failed; memberlist
	// will mark it failed unless it refutes in time.
	StatusSuspect Status = "suspect"
	// StatusLeft: the member left gracefully (Mesh.Leave).
	StatusLeft Status = "left"
	// StatusFailed: memberlist declared the member dead without a leave.
	StatusFailed Status = "failed"
)

// Role is what a node does in the cluster. Every node is a server today;
// the field exists so that lighter roles can be added without a metadata
// format change.
const RoleServer = "server"

// Meta is what a node tells every other node about itself through gossip.
// It is encoded compactly and must stay under memberlist's 512-byte limit
// (see EncodeMeta).
type Meta struct {
	Name     string `json:"n"`
	ID       string `json:"i"`
	Role     string `json:"r"`
	Version  string `json:"v"`
	RaftAddr string `json:"ra"` // host:port of Raft and the internal RPC
	HTTPAddr string `json:"h"`  // host:port of the REST API
	P2PAddr  string `json:"p"`  // host:port of libp2p
	GRPCAddr string `json:"g"`  // host:port of the local game-server gRPC API
	// PeerID is the node's libp2p peer ID (see package pubsub), empty
	// until pubsub has started.
	PeerID string `json:"pid,omitempty"`
	// Load is the node's recent CPU and memory use, refreshed every few
	// seconds by the node; zero until first measured.
	Load Load `json:"ld,omitzero"`
	// Labels are the node's labels (--node-label), which fleets'
	// node_selector matches, as "k=v,k2=v2" in key order (EncodeLabels):
	// a string keeps Meta comparable.
	Labels string `json:"lb,omitempty"`
	// Fleets is true when the node runs fleet servers (--fleet-allow set).
	Fleets bool `json:"fl,omitempty"`
}

// Load is a node's resource use, in whole percent of the machine.
type Load struct {
	CPU    uint8 `json:"c"`
	Memory uint8 `json:"m"`
}

// Member is one node as the local node currently sees it.
type Member struct {
	Meta
	// GossipAddr is the host:port memberlist talks to.
	GossipAddr string `json:"gossip_addr"`
	Status     Status `json:"status"`
}
