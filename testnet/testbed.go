package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"
)

// testbedConfig describes a cluster and its network.
type testbedConfig struct {
	Bin, Dir      string
	Nodes, Voters int
	Mode          string
	AgentArgs     []string
	Persistent    bool
	Log           *slog.Logger
}

// Testbed is a running cluster on its network, as Run and `cassnet
// testnet up` start it.
type Testbed struct {
	Cluster *Cluster
	// Net is nil in loopback mode.
	Net *Netns
	// Mode is ModeNetns or ModeLoopback; NetnsErr says why namespaces
	// were not used, in loopback mode.
	Mode     string
	NetnsErr error
	// Client is for the harness's own calls; WorkClient, with a larger
	// connection pool, for the workload.
	Client, WorkClient *Client
}

// startTestbed creates the network (if any), starts cfg.Nodes nodes and
// waits until they are ready with cfg.Voters voters and one leader. On
// error it tears down what it started.
func startTestbed(ctx context.Context, cfg testbedConfig) (_ *Testbed, err error) {
	tb := &Testbed{Mode: ModeLoopback}
	switch cfg.Mode {
	case ModeAuto, ModeNetns:
		tb.NetnsErr = NetnsAvailable()
		if tb.NetnsErr == nil {
			tb.Net, tb.NetnsErr = NewNetns(ctx, cfg.Persistent)
		}
		if tb.NetnsErr == nil {
			tb.Mode = ModeNetns
		} else if cfg.Mode == ModeNetns {
			return nil, fmt.Errorf("network namespaces: %w", tb.NetnsErr)
		} else {
			cfg.Log.Warn("testnet: network namespaces unavailable; using loopback addresses, so partitions and link faults cannot run",
				"why", tb.NetnsErr)
		}
	case ModeLoopback:
		tb.NetnsErr = errors.New("loopback mode was asked for")
	default:
		return nil, fmt.Errorf("unknown network mode %q (auto, netns or loopback)", cfg.Mode)
	}
	defer func() {
		if err != nil {
			tb.Close(context.WithoutCancel(ctx))
		}
	}()
	tb.Cluster, err = NewCluster(Config{Bin: cfg.Bin, Dir: cfg.Dir, AgentArgs: cfg.AgentArgs, Net: tb.Net, Persistent: cfg.Persistent})
	if err != nil {
		return nil, err
	}
	for range cfg.Nodes {
		if _, err := tb.Cluster.Spawn(ctx); err != nil {
			return nil, fmt.Errorf("start node: %w", err)
		}
	}
	tb.Client = NewClient(tb.Cluster.AdminToken())
	tb.WorkClient = &Client{Token: tb.Cluster.AdminToken(), HTTP: NewLoadHTTPClient(64)}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := WaitVoters(wctx, tb.Client, tb.Cluster.Nodes(), cfg.Voters); err != nil {
		return nil, fmt.Errorf("cluster did not form (logs in %s): %w", cfg.Dir, err)
	}
	cfg.Log.Info("testnet: cluster ready", "mode", tb.Mode, "nodes", cfg.Nodes, "voters", cfg.Voters)
	return tb, nil
}

// HealAll undoes every fault that may be left: it deletes the nemesis's
// nftables tables and netem qdiscs, resumes paused nodes and restarts
// stopped ones.
func (tb *Testbed) HealAll(ctx context.Context) error {
	var errs []error
	for _, n := range tb.Cluster.Nodes() {
		if n.Netns != "" {
			for _, table := range []string{partitionTable, lossTable} {
				if err := nftDelete(ctx, n.Netns, table); err != nil {
					errs = append(errs, err)
				}
			}
			for _, link := range netemLinks(tb.Net, n) {
				_ = runCmd(ctx, nil, "ip", "netns", "exec", link[0], "tc", "qdisc", "del", "dev", link[1], "root")
			}
		}
		if n.Running() {
			_ = n.Signal(syscall.SIGCONT)
			continue
		}
		if err := n.Restart(); err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Close kills every node and removes the network.
func (tb *Testbed) Close(ctx context.Context) {
	if tb.Cluster != nil {
		_ = tb.Cluster.Shutdown()
	}
	if tb.Net != nil {
		_ = tb.Net.Close(ctx)
	}
}
