package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/state/servers"
)

// Default ports. Every one is on the bind address and can be overridden.
const (
	DefaultGossipPort = 7946
	DefaultRaftPort   = 7947
	DefaultP2PPort    = 7948
	DefaultGRPCPort   = 7949
	DefaultHTTPPort   = 8080
)

// maxLabelBytes bounds the encoded node labels: the gossiped Meta must fit
// in memberlist's 512 bytes with the addresses, peer id and load (a
// 63-byte name and IPv6 addresses leave about 120 bytes).
const maxLabelBytes = 100

// Config is everything a node needs to start. Fields the operator did not
// set explicitly are taken from the node's data dir (see persisted.go), so
// a node restarts with only DataDir.
type Config struct {
	// Name is the node's unique name in the mesh (default: host name).
	Name string
	// DataDir holds the node's identity, tokens, Raft log and snapshots.
	DataDir string
	// Bind is the IP every service listens on.
	Bind string
	// Advertise is the IP other nodes use to reach this one (default
	// Bind; required when Bind is unspecified such as 0.0.0.0). A host
	// name is resolved to its first IPv4 address (else IPv6) at every
	// start, e.g. a compose service's own name.
	Advertise string
	// advertiseResolved is Advertise resolved, set by New.
	advertiseResolved string

	GossipPort int
	RaftPort   int
	P2PPort    int
	GRPCPort   int
	HTTPPort   int
	// HTTPBind overrides the IP the REST API listens on (default Bind).
	HTTPBind string
	// GRPCBind is the IP the local game-server gRPC API listens on
	// (default 127.0.0.1, or Bind if it is a loopback address: game
	// servers call the node on their own VM).
	GRPCBind string
	// HTTPTLS serves the REST API over HTTPS (TLS 1.3) with the node
	// certificate; clients verify it against DataDir/tls/ca.pem.
	HTTPTLS bool
	// HTTPTLSCert and HTTPTLSKey (PEM files, set together, need HTTPTLS)
	// replace the node certificate on the REST API with a user-supplied
	// one, e.g. from a public or corporate CA.
	HTTPTLSCert string
	HTTPTLSKey  string

	// Join lists seed gossip addresses (host or host:port).
	Join []string
	// Token is the cluster's join token. Default: the data dir's
	// join-token file, else TokenFile.
	Token string
	// TokenFile names a file holding the join token, used when neither
	// Token nor the data dir has one; AwaitTokenFile waits for it to
	// appear (a compose volume the bootstrap node writes, a secret).
	TokenFile string
	// WriteJoinToken, if set, is a file the join token is also written to
	// (mode 0600) at every start, for nodes started with TokenFile.
	WriteJoinToken string
	// Bootstrap forms a new cluster if this node has no state yet.
	Bootstrap bool
	// Voters is the target number of Raft voters (1, 3, 5 or 7).
	Voters int
	// LeaveOnTerminate makes SIGTERM and SIGINT (a cancelled Run context)
	// leave the cluster as `cassnet leave` does. By default they only
	// stop the node, which keeps its Raft seat and gossip identity, so a
	// rolling restart never shrinks the voters (Consul's
	// leave_on_terminate, false for servers). Not persisted.
	LeaveOnTerminate bool

	// DeadServerGrace, StabilizationTime and ReconnectInterval tune
	// autopilot and the mesh's reconnect loop.
	DeadServerGrace   time.Duration
	StabilizationTime time.Duration
	ReconnectInterval time.Duration
	// GameServerReapGrace is how long the servers of a member the mesh
	// declared failed stay unhealthy before the leader removes them
	// (default gameserver.DefaultReapGrace, 60 s).
	GameServerReapGrace time.Duration
	// WebhookAllowPrivate lets webhooks target loopback, private and
	// link-local addresses; WebhookAllowHTTP lets them use plain http
	// (docs/webhooks.md). Not persisted.
	WebhookAllowPrivate bool
	WebhookAllowHTTP    bool
	// AuditRetention is the audit log bound written when the cluster is
	// bootstrapped; change it later with PUT /v1/cluster/settings.
	AuditRetention uint32
	// SnapshotThreshold and TrailingLogs override raft's compaction
	// settings when non-zero.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// RaftLogStore is the Raft log store of a new data dir: "wal"
	// (hashicorp/raft-wal, the agent's default) or "boltdb" (also what an
	// empty value gives, for embedders and in-process tests); an existing
	// data dir keeps its own.
	RaftLogStore string
	// GCPercent, when non-zero, is the Go garbage collector's target
	// (GOGC) for as long as Run runs; the agent's default is
	// DefaultGCPercent unless GOGC is set in its environment. Zero leaves
	// the runtime's setting, which embedders and in-process tests get.
	// Not persisted.
	GCPercent        int
	SnapshotInterval time.Duration
	// SnapshotAgentInterval, if set, runs the snapshot agent: the leader
	// writes a snapshot archive into SnapshotAgentDir every interval and
	// keeps the newest SnapshotAgentRetain (see snapshotagent.go). Not
	// persisted.
	SnapshotAgentInterval time.Duration
	SnapshotAgentDir      string
	SnapshotAgentRetain   int
	// UnsafeAckBeforeCommit makes the leader acknowledge writes before
	// they commit. Test-only: the chaos harness uses it to prove that its
	// checkers catch lost writes. Not persisted in the data dir.
	UnsafeAckBeforeCommit bool

	// NodeLabels are this node's labels (--node-label k=v), gossiped and
	// matched by fleets' node_selector. Not persisted.
	NodeLabels map[string]string
	// FleetAllow lists the directory prefixes fleet commands must be in
	// (--fleet-allow). Empty: fleets are disabled on this node. FleetUser
	// runs the processes as another user (the node must be root). Not
	// persisted.
	FleetAllow []string
	FleetUser  string
	// UGC configures the UGC blob store (ugcconfig.go). Not persisted.
	UGC UGCConfig

	// RateLimits limit mutating API requests per API key, per tenant and
	// per operator token, on this node (see api.RateLimits).
	RateLimits api.RateLimits

	// Plugins tunes the Wasm plugin runtime on this node (package
	// plugin): PluginCallTimeout and PluginMemoryMiB bound each call (0:
	// 250ms, 64 MiB); PluginInterpreter runs modules interpreted (fast to
	// load, slow to call; tests use it).
	PluginCallTimeout time.Duration
	PluginMemoryMiB   uint
	PluginInterpreter bool

	// PubSubMaxMessageSize, PubSubHistorySize and PubSubHistoryAge tune
	// topic messaging (0: pubsub's defaults, 64 KiB, 10000 and 5m).
	PubSubMaxMessageSize int
	PubSubHistorySize    int
	PubSubHistoryAge     time.Duration
	// PubSubBatchMax and PubSubBatchLinger tune the coalescing of a
	// topic's messages into one gossip message (pubsub.Config.BatchMax
	// and BatchLinger; zero takes pubsub's defaults).
	PubSubBatchMax    int
	PubSubBatchLinger time.Duration

	// CertLifetime is how long node certificates this node issues are
	// valid (0: pki.DefaultCertLifetime, 30 days). Nodes renew at
	// two-thirds of their certificate's lifetime.
	CertLifetime time.Duration
	// TLSCA, TLSCert and TLSKey are PEM files of an operator-run PKI
	// (`cassnet tls ca|cert create`). When set, they are copied into
	// DataDir/tls at every start and used instead of a certificate from
	// the built-in CA; the node then neither joins for a certificate nor
	// renews it (replace the files and restart), and fetches only the
	// gossip keyring from a seed, presenting the certificate.
	TLSCA, TLSCert, TLSKey string

	// Version is reported in gossip metadata and /v1/version.
	Version string
	// Logger receives structured logs.
	Logger *slog.Logger
}

// Defaults returns a Config with every default filled in.
func Defaults() Config {
	return Config{
		Bind:                "127.0.0.1",
		GossipPort:          DefaultGossipPort,
		RaftPort:            DefaultRaftPort,
		P2PPort:             DefaultP2PPort,
		GRPCPort:            DefaultGRPCPort,
		HTTPPort:            DefaultHTTPPort,
		Voters:              3,
		DeadServerGrace:     30 * time.Second,
		StabilizationTime:   10 * time.Second,
		ReconnectInterval:   5 * time.Second,
		AuditRetention:      10000,
		SnapshotAgentRetain: DefaultSnapshotRetain,
		// Generous enough for a game server creating sessions as players
		// join, tight enough to blunt a leaked key. Operators are not
		// limited by default (see docs/identity.md).
		RateLimits: api.RateLimits{KeyRate: 50, KeyBurst: 100, TenantRate: 200, TenantBurst: 400,
			Publish: &api.RateLimits{KeyRate: 2000, KeyBurst: 4000, TenantRate: 10000, TenantBurst: 20000}},
		Version: "dev",
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if err := validateGCPercent(c.GCPercent); err != nil {
		errs = append(errs, err)
	}
	if net.ParseIP(c.Bind) == nil {
		errs = append(errs, fmt.Errorf("--bind %q is not an IP address", c.Bind))
	}
	if err := servers.ValidateLabels("--node-label", c.NodeLabels); err != nil {
		errs = append(errs, err)
	} else if n := len(mesh.EncodeLabels(c.NodeLabels)); n > maxLabelBytes {
		errs = append(errs, fmt.Errorf("--node-label: %d bytes of labels, at most %d fit in the gossiped metadata", n, maxLabelBytes))
	}
	for _, dir := range c.FleetAllow {
		if !filepath.IsAbs(dir) {
			errs = append(errs, fmt.Errorf("--fleet-allow %q: must be an absolute directory", dir))
		}
	}
	if c.Advertise == "" {
		if ip := net.ParseIP(c.Bind); ip != nil && ip.IsUnspecified() {
			errs = append(errs, errors.New("--advertise is required when --bind is unspecified"))
		}
	} else if ip := net.ParseIP(c.Advertise); ip == nil && !validHostname(c.Advertise) {
		errs = append(errs, fmt.Errorf("--advertise %q is neither an IP address nor a host name", c.Advertise))
	} else if ip != nil && ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("--advertise %q: others cannot dial an unspecified address", c.Advertise))
	}
	for name, p := range map[string]int{"gossip": c.GossipPort, "raft": c.RaftPort, "p2p": c.P2PPort, "grpc": c.GRPCPort, "http": c.HTTPPort} {
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("--%s-port %d is out of range", name, p))
		}
	}
	switch c.Voters {
	case 1, 3, 5, 7:
	default:
		errs = append(errs, fmt.Errorf("--voters %d: must be 1, 3, 5 or 7 (an odd number)", c.Voters))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("--name is required"))
	}
	if c.SnapshotAgentInterval < 0 || c.SnapshotAgentInterval > 0 && c.SnapshotAgentInterval < time.Second {
		errs = append(errs, fmt.Errorf("--snapshot-interval %s: must be at least 1s (0: off)", c.SnapshotAgentInterval))
	}
	if c.UGC.GCInterval < 0 || c.UGC.GCInterval > 0 && c.UGC.GCInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--ugc-gc-interval %s: must be at least 100ms (0: 30s)", c.UGC.GCInterval))
	}
	if c.SnapshotAgentInterval > 0 && c.SnapshotAgentDir == "" {
		errs = append(errs, errors.New("--snapshot-interval needs --snapshot-dir"))
	}
	if c.SnapshotAgentRetain < 0 {
		errs = append(errs, fmt.Errorf("--snapshot-retain %d: must not be negative (0: keep all)", c.SnapshotAgentRetain))
	}
	if (c.HTTPTLSCert == "") != (c.HTTPTLSKey == "") {
		errs = append(errs, errors.New("--http-tls-cert and --http-tls-key must be set together"))
	} else if c.HTTPTLSCert != "" && !c.HTTPTLS {
		errs = append(errs, errors.New("--http-tls-cert and --http-tls-key need --http-tls"))
	}
	return errors.Join(errs...)
}

func (c *Config) advertiseIP() string {
	if c.advertiseResolved != "" {
		return c.advertiseResolved
	}
	if c.Advertise != "" {
		return c.Advertise
	}
	return c.Bind
}

func (c *Config) httpBind() string {
	if c.HTTPBind != "" {
		return c.HTTPBind
	}
	return c.Bind
}

// validHostname reports whether s is a syntactically valid DNS host name.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// resolveAdvertise turns a host name in Advertise into an IP address.
func (c *Config) resolveAdvertise(ctx context.Context) error {
	c.advertiseResolved = ""
	if c.Advertise == "" || net.ParseIP(c.Advertise) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, c.Advertise)
	if err != nil {
		return fmt.Errorf("--advertise %q: %w", c.Advertise, err)
	}
	for _, want4 := range []bool{true, false} {
		for _, a := range addrs {
			if (a.IP.To4() != nil) == want4 && !a.IP.IsUnspecified() {
				c.advertiseResolved = a.IP.String()
				return nil
			}
		}
	}
	return fmt.Errorf("--advertise %q: no usable address", c.Advertise)
}

// withPort appends the default port to a seed address without one.
func withPort(addr string, port int) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, fmt.Sprint(port))
}
