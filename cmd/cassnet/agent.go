package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cassandranet/cassnet/node"
)

func runAgent(args []string) error {
	cfg := node.Defaults()
	cfg.Version = version
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, "Usage: cassnet agent [flags]\n\nRuns a CassandraNet node. The first node of a cluster uses --bootstrap;\nthe others use --join with a seed address and --token. A restarted node\nneeds only --data-dir.")
	fs.StringVar(&cfg.Name, "name", "", "unique node name (default: host name; remembered in the data dir)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for identity, tokens, Raft log and snapshots (required)")
	fs.StringVar(&cfg.Bind, "bind", cfg.Bind, "IP address every service listens on")
	fs.StringVar(&cfg.Advertise, "advertise", "", "IP address other nodes use to reach this one (default: --bind)")
	fs.StringVar(&cfg.HTTPBind, "http-bind", "", "IP address of the REST API (default: --bind)")
	fs.IntVar(&cfg.GossipPort, "gossip-port", cfg.GossipPort, "gossip port (TCP and UDP)")
	fs.IntVar(&cfg.RaftPort, "raft-port", cfg.RaftPort, "Raft and internal RPC port")
	fs.IntVar(&cfg.P2PPort, "p2p-port", cfg.P2PPort, "libp2p port")
	fs.IntVar(&cfg.GRPCPort, "grpc-port", cfg.GRPCPort, "local game-server gRPC port")
	fs.IntVar(&cfg.HTTPPort, "http-port", cfg.HTTPPort, "REST API port")
	join := stringList{}
	fs.Var(&join, "join", "seed gossip address host[:port] (repeatable; retried with backoff)")
	fs.StringVar(&cfg.Token, "token", "", "the cluster's join token (default: the data dir's join-token file)")
	fs.BoolVar(&cfg.Bootstrap, "bootstrap", false, "form a new cluster if this node has no state")
	fs.IntVar(&cfg.Voters, "voters", cfg.Voters, "target number of Raft voters: 1, 3, 5 or 7")
	fs.DurationVar(&cfg.DeadServerGrace, "dead-server-grace", cfg.DeadServerGrace, "how long a failed server is kept before autopilot replaces and removes it")
	fs.DurationVar(&cfg.StabilizationTime, "stabilization-time", cfg.StabilizationTime, "how long a non-voter must be healthy before promotion")
	fs.DurationVar(&cfg.ReconnectInterval, "reconnect-interval", cfg.ReconnectInterval, "how often failed members are re-joined")
	var auditRetention uint
	fs.UintVar(&auditRetention, "audit-retention", uint(cfg.AuditRetention), "audit entries kept, written when the cluster is bootstrapped")
	fs.Uint64Var(&cfg.SnapshotThreshold, "raft-snapshot-threshold", 0, "log entries between snapshots (0: raft default 8192)")
	fs.Uint64Var(&cfg.TrailingLogs, "raft-trailing-logs", 0, "log entries kept after a snapshot (0: raft default 10240)")
	fs.DurationVar(&cfg.SnapshotInterval, "raft-snapshot-interval", 0, "how often raft checks whether to snapshot (0: raft default 120s)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	explicit, err := parseWithEnv(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	cfg.Join = join
	cfg.AuditRetention = uint32(auditRetention)
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	n, err := node.New(cfg, explicit, os.Stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return n.Run(ctx)
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
