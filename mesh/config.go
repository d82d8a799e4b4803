package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Defaults used by New for zero Config fields.
const (
	DefaultBindAddr          = "0.0.0.0"
	DefaultBindPort          = 7946
	DefaultReconnectInterval = 5 * time.Second
	DefaultReconnectTimeout  = 72 * time.Hour
	DefaultJoinRetryMax      = 30 * time.Second
)

// Config configures a Mesh. The zero value of every field except Name,
// NodeID and JoinToken is usable.
type Config struct {
	// Name is this node's memberlist name. It must be unique in the
	// cluster; Meta.Name is set to it.
	Name string
	// NodeID is the node's stable ID (it survives restarts and address
	// changes). Meta.ID is set to it. Two live nodes with the same Name
	// but different NodeIDs are reported as a conflict in the log.
	NodeID string

	// BindAddr and BindPort are where memberlist listens, on both TCP
	// and UDP. Defaults: "0.0.0.0" and 7946.
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other nodes dial. Empty
	// AdvertiseAddr lets memberlist pick a private address of this host;
	// AdvertisePort 0 means BindPort.
	AdvertiseAddr string
	AdvertisePort int

	// Meta is what this node tells the others about itself. Name and ID
	// are filled from Name and NodeID; Role defaults to RoleServer. It
	// must encode within memberlist.MetaMaxSize (see EncodeMeta).
	Meta Meta

	// JoinToken is the cluster secret. The gossip encryption key is
	// derived from it (GossipKey); nodes with another token can neither
	// join nor read gossip. Required. It is never logged.
	JoinToken string
	// Keys, if set, are the gossip encryption keys (16, 24 or 32 bytes),
	// the primary first, and replace the key derived from JoinToken. A
	// node gets them from the join handshake (package pki).
	Keys [][]byte
	// JoinHandler, if set, receives TCP connections on the gossip port
	// whose first byte is JoinStreamByte, for a node that has no gossip
	// key yet (see jointransport.go). It owns the connection and must
	// return within a bounded time.
	JoinHandler func(net.Conn)

	// Seeds are host:port gossip addresses to join at start. A cluster's
	// first node has none.
	Seeds []string
	// PeersFile, if set, is where the gossip addresses of known peers are
	// persisted (atomically, mode 0600, about a second after the set
	// changes, and at Shutdown) so that a restarted node can rejoin
	// without Seeds. It holds alive and suspect peers and failed ones not
	// yet forgotten, so a node restarted while cut off still has a way
	// back; members that left are dropped.
	PeersFile string

	// ReconnectInterval is how often the reconnect loop tries failed
	// members (and the seeds and persisted peers when no other member is
	// alive). Default 5s.
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long a failed or left member is remembered,
	// and a failed one retried, before it is forgotten. Default 72h.
	ReconnectTimeout time.Duration
	// JoinRetryMax caps the exponential backoff of the start-up join.
	// Default 30s.
	JoinRetryMax time.Duration

	// Logger receives mesh's and memberlist's logs. Default slog.Default().
	Logger *slog.Logger

	// Timing tunes failure detection and gossip. Zero fields take the
	// values of DefaultTiming.
	Timing Timing

	// Test seams; only this package's tests set them.
	wrapTransport    func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	disableReconnect bool
}

// Timing holds memberlist's timing knobs (see memberlist.Config for what
// each one does). Zero fields take the values of DefaultTiming.
type Timing struct {
	ProbeInterval           time.Duration // how often a member is probed (one per tick, round-robin)
	ProbeTimeout            time.Duration // wait for a direct ack before probing indirectly
	SuspicionMult           int           // base suspicion = SuspicionMult × max(1, log10 N) × ProbeInterval
	SuspicionMaxTimeoutMult int           // suspicion starts at this × base, shrinking with confirmations
	GossipInterval          time.Duration // how often queued gossip is sent
	GossipToTheDeadTime     time.Duration // how long dead members still receive gossip
	PushPullInterval        time.Duration // full state sync with one random member
	TCPTimeout              time.Duration // bounds each join / push-pull connection
	DeadNodeReclaimTime     time.Duration // after this, a dead member's name may return at a new address
}

// DefaultTiming is tuned for failure detection in about 2.5 s on a LAN
// (issue 17: at most 3 s, median of 10 kill -9s; memberlist's LAN preset
// took 6.1-6.8 s here). From memberlist.DefaultLANConfig it changes:
//
//   - ProbeInterval 500 ms (LAN: 1 s) and ProbeTimeout 250 ms (LAN:
//     500 ms; DefaultLocalConfig uses 200 ms). A crashed member is probed
//     by some survivor within about one interval (each survivor probes
//     one member per tick, round-robin), its direct and indirect probes
//     fail within the next interval, and then it is suspect.
//   - SuspicionMult 3 (LAN: 4): the base suspicion timeout is
//     3 × max(1, log10 N) × 500 ms = 1.5 s below ten nodes. In a 3-node
//     cluster memberlist expects no confirmations and uses the base
//     directly. Detection is therefore about 0.25-1 s + 0.5 s + 1.5 s,
//     2.3-3 s. 1.5 s is still many round trips for a suspected member to
//     refute (it hears of the suspicion by gossip every 200 ms).
//   - SuspicionMaxTimeoutMult 2 (LAN: 6): with confirmations expected
//     (larger clusters) the timer starts at 2 × base, not 6 ×.
//   - DeadNodeReclaimTime 30 s instead of 0 (never), so that a node that
//     restarts under the same name at a new address is accepted once its
//     old incarnation has been dead for 30 s.
//
// The risk of shorter timeouts is false suspicion of a member that is
// only slow to answer on a saturated machine. Lifeguard (memberlist's
// awareness) stretches a node's own probe timeouts up to 8× when its
// probes go unanswered, and a false suspicion is refuted, not acted on;
// each one is counted (cassnet_mesh_suspicions_total). Measured figures:
// docs/benchmarks.md#failure-detection.
func DefaultTiming() Timing {
	lan := memberlist.DefaultLANConfig()
	return Timing{
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 2,
		GossipInterval:          lan.GossipInterval,
		GossipToTheDeadTime:     lan.GossipToTheDeadTime,
		PushPullInterval:        lan.PushPullInterval,
		TCPTimeout:              lan.TCPTimeout,
		DeadNodeReclaimTime:     30 * time.Second,
	}
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&t.ProbeInterval, d.ProbeInterval)
	setDur(&t.ProbeTimeout, d.ProbeTimeout)
	setDur(&t.GossipInterval, d.GossipInterval)
	setDur(&t.GossipToTheDeadTime, d.GossipToTheDeadTime)
	setDur(&t.PushPullInterval, d.PushPullInterval)
	setDur(&t.TCPTimeout, d.TCPTimeout)
	setDur(&t.DeadNodeReclaimTime, d.DeadNodeReclaimTime)
	if t.SuspicionMult == 0 {
		t.SuspicionMult = d.SuspicionMult
	}
	if t.SuspicionMaxTimeoutMult == 0 {
		t.SuspicionMaxTimeoutMult = d.SuspicionMaxTimeoutMult
	}
	return t
}

// suspicionHold is how long a member this node suspected may stay
// suspect: by then memberlist's own suspicion timer (at most
// SuspicionMaxTimeoutMult × base) has either marked it failed or the
// member has refuted. One probe interval of slack is added.
func (t Timing) suspicionHold(n int) time.Duration {
	scale := math.Max(1, math.Log10(float64(max(n, 1))))
	base := time.Duration(float64(t.SuspicionMult) * scale * float64(t.ProbeInterval))
	return time.Duration(t.SuspicionMaxTimeoutMult)*base + t.ProbeInterval
}

// LogValue implements slog.LogValuer. It leaves out JoinToken so that a
// Config can be logged safely.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("node_id", c.NodeID),
		slog.String("bind", net.JoinHostPort(c.BindAddr, strconv.Itoa(c.BindPort))),
		slog.String("advertise_addr", c.AdvertiseAddr),
		slog.Int("advertise_port", c.AdvertisePort),
		slog.Any("seeds", c.Seeds),
		slog.String("peers_file", c.PeersFile),
		slog.Bool("join_token_set", c.JoinToken != ""),
	)
}

// normalize fills defaults and checks c. It returns the encoded meta.
func (c *Config) normalize() ([]byte, error) {
	if c.Name == "" {
		return nil, errors.New("mesh: config: Name is required")
	}
	if c.NodeID == "" {
		return nil, errors.New("mesh: config: NodeID is required")
	}
	if c.JoinToken == "" && len(c.Keys) == 0 {
		return nil, errors.New("mesh: config: JoinToken is required")
	}
	if c.BindAddr == "" {
		c.BindAddr = DefaultBindAddr
	}
	if c.BindPort == 0 {
		c.BindPort = DefaultBindPort
	}
	if c.AdvertisePort == 0 {
		c.AdvertisePort = c.BindPort
	}
	for _, p := range []int{c.BindPort, c.AdvertisePort} {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("mesh: config: port %d out of range", p)
		}
	}
	for _, s := range c.Seeds {
		if err := checkHostPort(s); err != nil {
			return nil, fmt.Errorf("mesh: config: seed: %w", err)
		}
	}
	if c.ReconnectInterval < 0 || c.ReconnectTimeout < 0 || c.JoinRetryMax < 0 {
		return nil, errors.New("mesh: config: durations must not be negative")
	}
	if c.ReconnectInterval == 0 {
		c.ReconnectInterval = DefaultReconnectInterval
	}
	if c.ReconnectTimeout == 0 {
		c.ReconnectTimeout = DefaultReconnectTimeout
	}
	if c.JoinRetryMax == 0 {
		c.JoinRetryMax = DefaultJoinRetryMax
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Timing = c.Timing.withDefaults()
	if c.Timing.ProbeTimeout >= c.Timing.ProbeInterval {
		return nil, errors.New("mesh: config: Timing.ProbeTimeout must be shorter than ProbeInterval")
	}
	meta, err := c.fillMeta(c.Meta)
	if err != nil {
		return nil, err
	}
	c.Meta = meta
	return EncodeMeta(meta)
}

// fillMeta sets m's Name, ID and Role from c, refusing to change a Name
// or ID that is already set to something else.
func (c *Config) fillMeta(m Meta) (Meta, error) {
	if m.Name == "" {
		m.Name = c.Name
	}
	if m.ID == "" {
		m.ID = c.NodeID
	}
	if m.Name != c.Name {
		return m, fmt.Errorf("mesh: meta name %q differs from node name %q", m.Name, c.Name)
	}
	if m.ID != c.NodeID {
		return m, fmt.Errorf("mesh: meta ID %q differs from node ID %q", m.ID, c.NodeID)
	}
	if m.Role == "" {
		m.Role = RoleServer
	}
	return m, nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q: empty host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: bad port", s)
	}
	return nil
}
