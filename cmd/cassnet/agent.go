package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cassandranet/cassnet/node"
)

// agentCommand is `cassnet agent`'s command line, parsed with the
// environment and the config file.
type agentCommand struct {
	cfg         node.Config
	fs          *flag.FlagSet
	src         map[string]string // flag name → fromFlag, fromEnv or fromFile
	logLevel    string
	logFormat   string
	printConfig bool
}

// explicit is the set of flags the operator set, in any layer.
func (a *agentCommand) explicit() map[string]bool {
	out := make(map[string]bool, len(a.src))
	for k := range a.src {
		out[k] = true
	}
	return out
}

func runAgent(args []string) error {
	a, err := parseAgent(args)
	if err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if a.printConfig {
		return printConfig(os.Stdout, a.fs, a.src)
	}
	logger, err := newLogger(a.logLevel, a.logFormat)
	if err != nil {
		return err
	}
	a.cfg.Logger = logger
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := node.AwaitTokenFile(ctx, &a.cfg); err != nil {
		return err
	}
	n, err := node.New(a.cfg, a.explicit(), os.Stdout)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// parseAgent builds the agent's flags and parses args, the environment
// and the config file into them.
func parseAgent(args []string) (*agentCommand, error) {
	cfg := node.Defaults()
	cfg.Version = version
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, agentSynopsis)
	fs.StringVar(&cfg.Name, "name", "", "unique node name (default: host name; remembered in the data dir)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for identity, tokens, Raft log and snapshots (required)")
	fs.StringVar(&cfg.Bind, "bind", cfg.Bind, "IP address every service listens on")
	fs.StringVar(&cfg.Advertise, "advertise", "", "IP address or host name (resolved at each start) other nodes use to reach this one (default: --bind)")
	fs.StringVar(&cfg.HTTPBind, "http-bind", "", "IP address of the REST API (default: --bind)")
	fs.IntVar(&cfg.GossipPort, "gossip-port", cfg.GossipPort, "gossip port (TCP and UDP)")
	fs.IntVar(&cfg.RaftPort, "raft-port", cfg.RaftPort, "Raft and internal RPC port")
	fs.IntVar(&cfg.P2PPort, "p2p-port", cfg.P2PPort, "libp2p port")
	fs.IntVar(&cfg.GRPCPort, "grpc-port", cfg.GRPCPort, "local game-server gRPC port")
	fs.StringVar(&cfg.GRPCBind, "grpc-bind", "", "IP address of the local game-server gRPC API (default: 127.0.0.1, or --bind if it is a loopback address)")
	fs.IntVar(&cfg.HTTPPort, "http-port", cfg.HTTPPort, "REST API port")
	fs.BoolVar(&cfg.HTTPTLS, "http-tls", false, "serve the REST API over HTTPS with the node certificate (clients trust DATA/tls/ca.pem)")
	fs.StringVar(&cfg.HTTPTLSCert, "http-tls-cert", "", "with --http-tls: serve the REST API with this certificate (PEM, chain allowed) instead of the node certificate")
	fs.StringVar(&cfg.HTTPTLSKey, "http-tls-key", "", "with --http-tls: the private key (PEM) of --http-tls-cert")
	join := stringList{}
	fs.Var(&join, "join", "seed gossip address host[:port] (repeatable; retried with backoff)")
	fs.StringVar(&cfg.Token, "token", "", "the cluster's join token (default: the data dir's join-token file)")
	fs.StringVar(&cfg.TokenFile, "token-file", "", "read the join token from this file when neither --token nor the data dir has one, waiting for it to appear")
	fs.StringVar(&cfg.WriteJoinToken, "write-join-token", "", "also write the join token to this file (mode 0600) at start, for nodes started with --token-file")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "form a new cluster if this node has no state")
	fs.BoolVar(&cfg.LeaveOnTerminate, "leave-on-terminate", false, "leave the cluster on SIGTERM/SIGINT as cassnet leave does (default: only stop, keeping the Raft seat, so rolling restarts keep quorum)")
	fs.IntVar(&cfg.Voters, "voters", cfg.Voters, "target number of Raft voters: 1, 3, 5 or 7")
	fs.DurationVar(&cfg.DeadServerGrace, "dead-server-grace", cfg.DeadServerGrace, "how long a failed server is kept before autopilot replaces and removes it")
	fs.DurationVar(&cfg.StabilizationTime, "stabilization-time", cfg.StabilizationTime, "how long a non-voter must be healthy before promotion")
	fs.DurationVar(&cfg.ReconnectInterval, "reconnect-interval", cfg.ReconnectInterval, "how often failed members are re-joined")
	nodeLabels, fleetAllow := stringList{}, stringList{}
	fs.Var(&nodeLabels, "node-label", "a label of this node, key=value (repeatable), gossiped and matched by fleets' node_selector")
	fs.Var(&fleetAllow, "fleet-allow", "run fleet servers whose command is under this absolute directory (repeatable; none: fleets disabled on this node)")
	fs.StringVar(&cfg.FleetUser, "fleet-user", "", "run fleet servers as this user (the node must run as root; default: the node's own user)")
	fs.BoolVar(&cfg.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks target loopback, private (RFC 1918, ULA, CGNAT) and link-local addresses (set it on every node)")
	fs.BoolVar(&cfg.WebhookAllowHTTP, "webhook-allow-http", false, "let webhooks use plain http instead of https (set it on every node)")
	fs.DurationVar(&cfg.GameServerReapGrace, "gameserver-reap-grace", 0, "how long the game servers of a failed node stay lost before they are removed (0: 60s)")
	var auditRetention uint
	fs.UintVar(&auditRetention, "audit-retention", uint(cfg.AuditRetention), "audit entries kept, written when the cluster is bootstrapped")
	fs.Uint64Var(&cfg.SnapshotThreshold, "raft-snapshot-threshold", 0, "log entries between snapshots (0: raft default 8192)")
	fs.Uint64Var(&cfg.TrailingLogs, "raft-trailing-logs", 0, "log entries kept after a snapshot (0: raft default 10240)")
	fs.StringVar(&cfg.RaftLogStore, "raft-log-store", "wal", "Raft log store of a new data dir: wal (hashicorp/raft-wal, as Consul 1.20+ does) or boltdb; an existing data dir keeps its own")
	gcDefault := node.DefaultGCPercent
	if os.Getenv("GOGC") != "" {
		gcDefault = 0 // the operator's GOGC wins over the agent's default
	}
	fs.IntVar(&cfg.GCPercent, "gc-percent", gcDefault, fmt.Sprintf("Go garbage collector target, as GOGC: collect when the heap has grown this many percent (0: leave the runtime's setting; default %d unless GOGC is set)", node.DefaultGCPercent))
	fs.DurationVar(&cfg.SnapshotInterval, "raft-snapshot-interval", 0, "how often raft checks whether to snapshot (0: raft default 120s)")
	fs.DurationVar(&cfg.SnapshotAgentInterval, "snapshot-interval", 0, "snapshot agent: the leader writes a snapshot archive into --snapshot-dir this often (0: off)")
	fs.StringVar(&cfg.SnapshotAgentDir, "snapshot-dir", "", "snapshot agent: directory for the archives")
	fs.IntVar(&cfg.SnapshotAgentRetain, "snapshot-retain", cfg.SnapshotAgentRetain, "snapshot agent: archives kept, the oldest removed first (0: keep all)")
	fs.Float64Var(&cfg.RateLimits.KeyRate, "rate-limit-key", cfg.RateLimits.KeyRate, "mutating requests per second per API key, on each node (0: unlimited)")
	fs.IntVar(&cfg.RateLimits.KeyBurst, "rate-limit-key-burst", cfg.RateLimits.KeyBurst, "burst of --rate-limit-key")
	fs.Float64Var(&cfg.RateLimits.TenantRate, "rate-limit-tenant", cfg.RateLimits.TenantRate, "mutating requests per second per tenant (all its API keys), on each node (0: unlimited)")
	fs.IntVar(&cfg.RateLimits.TenantBurst, "rate-limit-tenant-burst", cfg.RateLimits.TenantBurst, "burst of --rate-limit-tenant")
	fs.Float64Var(&cfg.RateLimits.OperatorRate, "rate-limit-operator", cfg.RateLimits.OperatorRate, "mutating requests per second per operator token, on each node (0: unlimited)")
	fs.IntVar(&cfg.RateLimits.OperatorBurst, "rate-limit-operator-burst", cfg.RateLimits.OperatorBurst, "burst of --rate-limit-operator")
	fs.Float64Var(&cfg.RateLimits.Publish.KeyRate, "rate-limit-publish-key", cfg.RateLimits.Publish.KeyRate, "topic messages published per second per API key, on each node (0: unlimited)")
	fs.IntVar(&cfg.RateLimits.Publish.KeyBurst, "rate-limit-publish-key-burst", cfg.RateLimits.Publish.KeyBurst, "burst of --rate-limit-publish-key")
	fs.Float64Var(&cfg.RateLimits.Publish.TenantRate, "rate-limit-publish-tenant", cfg.RateLimits.Publish.TenantRate, "topic messages published per second per tenant, on each node (0: unlimited)")
	fs.IntVar(&cfg.RateLimits.Publish.TenantBurst, "rate-limit-publish-tenant-burst", cfg.RateLimits.Publish.TenantBurst, "burst of --rate-limit-publish-tenant")
	fs.IntVar(&cfg.PubSubMaxMessageSize, "pubsub-max-message-size", 0, "largest topic message payload in bytes (0: 64 KiB)")
	fs.IntVar(&cfg.PubSubHistorySize, "pubsub-history-size", 0, "messages kept per topic for backfill and resume (0: 10000)")
	fs.IntVar(&cfg.PubSubBatchMax, "pubsub-batch-max", 0, "most messages of one topic coalesced into one gossip message (0: 256; 1: no coalescing)")
	fs.DurationVar(&cfg.PubSubBatchLinger, "pubsub-batch-linger", 0, "how long a gossip batch waits to fill (0: send as soon as the previous one is handed over)")
	fs.DurationVar(&cfg.PubSubHistoryAge, "pubsub-history-age", 0, "how long topic messages are kept for backfill and resume (0: 5m)")
	fs.DurationVar(&cfg.CertLifetime, "cert-lifetime", 0, "lifetime of node certificates this node issues; nodes renew at 2/3 (0: 720h)")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "operator PKI: the CA certificate (PEM) instead of the built-in CA")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "operator PKI: this node's certificate (PEM, from cassnet tls cert create)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "operator PKI: this node's private key (PEM)")
	ugcFlags(fs, &cfg.UGC)
	fs.DurationVar(&cfg.PluginCallTimeout, "plugin-call-timeout", 0, "longest one Wasm plugin hook or RPC call may run (0: 250ms)")
	fs.UintVar(&cfg.PluginMemoryMiB, "plugin-memory-mib", 0, "linear memory limit of each Wasm plugin instance, in MiB (0: 64)")
	fs.BoolVar(&cfg.PluginInterpreter, "plugin-interpreter", false, "run Wasm plugins in wazero's interpreter: loads in a fraction of the time, calls about 50x slower (tests)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	// Test-only: registered like the others but left out of --help.
	fs.BoolVar(&cfg.UnsafeAckBeforeCommit, "unsafe-ack-before-commit", false,
		"TEST ONLY: acknowledge writes before they commit (loses data; used by the chaos harness)")
	hideFlags(fs)
	fs.String(configFlag, "", "read settings from this TOML file: keys are these flags' names (data-dir = \"/var/lib/cassnet\"); flags and CASS_* win over it")
	printCfg := fs.Bool("print-config", false, "print the effective configuration as a config file (secrets redacted) and exit")
	src, err := parseLayers(fs, args)
	if err != nil {
		return nil, err
	}
	cfg.Join = join
	cfg.FleetAllow = fleetAllow
	if len(nodeLabels) > 0 {
		cfg.NodeLabels = map[string]string{}
		for _, kv := range nodeLabels {
			k, v, _ := strings.Cut(kv, "=") // "key" alone: an empty value
			cfg.NodeLabels[k] = v
		}
	}
	if auditRetention > 1<<32-1 {
		return nil, fmt.Errorf("--audit-retention %d is too large", auditRetention)
	}
	cfg.AuditRetention = uint32(auditRetention)
	return &agentCommand{cfg: cfg, fs: fs, src: src, logLevel: *logLevel, logFormat: *logFormat, printConfig: *printCfg}, nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: must be text or json", format)
	}
}

// agentSynopsis heads `cassnet agent --help`.
const agentSynopsis = "Usage: cassnet agent [flags]\n\nRuns a CassandraNet node. The first node of a cluster uses --bootstrap;\nthe others use --join with a seed address and --token. A restarted node\nneeds only --data-dir."

// hideFlags keeps the hiddenFlags (test-only) out of fs's --help output;
// they still parse normally, from the command line or CASS_<NAME>. Flags
// defined after the call are listed too.
func hideFlags(fs *flag.FlagSet) {
	public := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	public.SetOutput(fs.Output())
	fs.Usage = func() {
		fs.VisitAll(func(f *flag.Flag) {
			if !hiddenFlags[f.Name] && public.Lookup(f.Name) == nil {
				public.Var(f.Value, f.Name, f.Usage)
			}
		})
		flagUsage(public, agentSynopsis)()
	}
}
