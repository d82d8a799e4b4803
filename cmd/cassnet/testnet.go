package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

const testnetSynopsis = `Usage: cassnet testnet <up|status|down|run> [flags]

Starts a local test network of cassnet agents, and breaks it on purpose.
As root (or with CAP_NET_ADMIN) every node gets its own network namespace
and address on a private bridge; otherwise nodes use 127.0.0.x and the
network faults (partitions, netem, loss) are unavailable.

  up      start N agents that keep running after this command exits
  status  show what every node of the test network reports
  down    kill the agents and remove the network (data dirs stay)
  run     a chaos run: workload + faults + checkers, then a report

See docs/testnet.md.`

const defaultTestnetDir = "cassnet-testnet"

func runTestnet(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, testnetSynopsis)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "up":
		return testnetUp(ctx, args[1:])
	case "status":
		return testnetStatus(ctx, args[1:])
	case "down":
		return testnetDown(ctx, args[1:])
	case "run":
		return testnetRun(ctx, args[1:])
	}
	return fmt.Errorf("testnet: unknown subcommand %q\n\n%s", args[0], testnetSynopsis)
}

// parseTestnetFlags parses a subcommand's flags; ok is false after --help.
func parseTestnetFlags(fs *flag.FlagSet, synopsis string, args []string) (bool, error) {
	fs.Usage = flagUsage(fs, synopsis)
	if _, err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// selfBin is the cassnet binary to start: --bin, or this executable.
func selfBin(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own binary: %w", err)
	}
	return exe, nil
}

func testnetUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testnet up", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "number of agents")
	voters := fs.Int("voters", 0, "Raft voter target (default: 5, or fewer for small clusters)")
	dir := fs.String("dir", defaultTestnetDir, "where the data dirs, logs and the state file go")
	bin := fs.String("bin", "", "the cassnet binary to start (default: this one)")
	mode := fs.String("mode", testnet.ModeAuto, "network: auto, netns or loopback")
	var agentArgs stringList
	fs.Var(&agentArgs, "agent-arg", "extra flag for every agent (repeatable)")
	if ok, err := parseTestnetFlags(fs, "Usage: cassnet testnet up [flags]", args); !ok || err != nil {
		return err
	}
	b, err := selfBin(*bin)
	if err != nil {
		return err
	}
	st, err := testnet.Up(ctx, testnet.UpConfig{
		Bin: b, Dir: *dir, Nodes: *nodes, Voters: *voters, Mode: *mode, AgentArgs: agentArgs,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		return err
	}
	fmt.Printf("test network up: %d nodes (%s network), state in %s\n", len(st.Nodes), st.Mode, *dir)
	for _, n := range st.Nodes {
		fmt.Printf("  %-4s http://%s  pid %d  log %s\n", n.Name, n.HTTP, n.Pid, n.Log)
	}
	fmt.Printf("admin token: %s\nstop it with: cassnet testnet down --dir %s\n", st.AdminTokenFile, *dir)
	return nil
}

func testnetStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testnet status", flag.ContinueOnError)
	dir := fs.String("dir", defaultTestnetDir, "the directory given to up")
	if ok, err := parseTestnetFlags(fs, "Usage: cassnet testnet status [flags]", args); !ok || err != nil {
		return err
	}
	st, err := testnet.LoadState(*dir)
	if err != nil {
		return err
	}
	nodes, err := testnet.Status(ctx, st)
	if err != nil {
		return err
	}
	fmt.Printf("%s network, state in %s\n", st.Mode, *dir)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPROCESS\tHTTP\tRAFT\tTERM\tAPPLIED\tSTATE HASH\tMEMBERS ALIVE")
	for _, n := range nodes {
		proc := fmt.Sprintf("pid %d", n.Pid)
		if !n.Running {
			proc = "not running"
		}
		if n.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\tunreachable: %.60s\t\t\t\t\n", n.Name, proc, n.HTTP, n.Err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%.12s\t%d/%d\n", n.Name, proc, n.HTTP,
			strings.ToLower(n.Raft.State), n.Raft.Term, n.Raft.AppliedIndex, n.Raft.StateHash, n.AliveMembers, n.Members)
	}
	return tw.Flush()
}

func testnetDown(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testnet down", flag.ContinueOnError)
	dir := fs.String("dir", defaultTestnetDir, "the directory given to up")
	purge := fs.Bool("purge", false, "also delete the data dirs and logs")
	if ok, err := parseTestnetFlags(fs, "Usage: cassnet testnet down [flags]", args); !ok || err != nil {
		return err
	}
	st, err := testnet.LoadState(*dir)
	if err != nil {
		return err
	}
	if err := testnet.Down(ctx, st, *purge); err != nil {
		return err
	}
	fmt.Printf("test network in %s is down\n", *dir)
	return nil
}

const runSynopsis = `Usage: cassnet testnet run [flags]

Starts a cluster, runs workloads from concurrent clients while injecting
faults, heals, then checks them. Workloads (--workloads): bans (create,
revoke, consistent reads), sessions (issue, verify on another node,
revoke, ban the player) and pubsub (publish on a few topics; SSE
subscribers that resume with Last-Event-ID); alloc, only when named
(simulated game servers over gRPC, matchmakers allocating over REST with
idempotency keys), adds the allocations checker; webhooks, only when
named (a receiver on the host subscribed to the bans workload's
ban.created), adds the webhook checker. Checkers: convergence, lost
writes, sessions, linearizability, messaging and the logs. Writes
report.txt, report.json, history.jsonl and bans.html into --out. Exits
non-zero if a checker failed.

Faults: ` + "kill, pause, leave, add-node, remove-voter, partition-one, partition-leader,\npartition-halves, partition-bridge, partition-ring, netem, loss, or all."

func testnetRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testnet run", flag.ContinueOnError)
	cfg := testnet.RunConfig{}
	fs.IntVar(&cfg.Nodes, "nodes", 5, "number of agents")
	fs.IntVar(&cfg.Clients, "clients", 0, "concurrent workload clients (default: 2 per node)")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long faults are injected")
	faults := fs.String("faults", "kill,pause,partition-halves,partition-leader", "comma-separated faults, or all")
	workloads := fs.String("workloads", "all", "comma-separated workloads (bans, sessions, pubsub, alloc, webhooks), or all (bans, sessions, pubsub)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed for every random choice (default: random, printed)")
	fs.StringVar(&cfg.OutDir, "out", "", "output dir for the report and node data (default: chaos-<seed>)")
	bin := fs.String("bin", "", "the cassnet binary to start (default: this one; build with -race to catch races)")
	fs.StringVar(&cfg.Mode, "mode", testnet.ModeAuto, "network: auto, netns or loopback")
	fs.DurationVar(&cfg.HoldMin, "hold-min", 4*time.Second, "shortest time a fault lasts")
	fs.DurationVar(&cfg.HoldMax, "hold-max", 7*time.Second, "longest time a fault lasts")
	var agentArgs stringList
	fs.Var(&agentArgs, "agent-arg", "extra flag for every agent (repeatable)")
	if ok, err := parseTestnetFlags(fs, runSynopsis, args); !ok || err != nil {
		return err
	}
	fl, err := testnet.ParseFaults(*faults)
	if err != nil {
		return err
	}
	for _, f := range fl {
		cfg.Faults = append(cfg.Faults, f.Name())
	}
	cfg.Workloads = strings.Split(*workloads, ",")
	if _, err := testnet.NewGenerators(cfg.Workloads); err != nil {
		return err
	}
	if cfg.Bin, err = selfBin(*bin); err != nil {
		return err
	}
	cfg.AgentArgs = agentArgs
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano()) >> 1
	}
	if cfg.OutDir == "" {
		cfg.OutDir = fmt.Sprintf("chaos-%d", cfg.Seed)
	}
	fmt.Printf("chaos run: seed %d, output in %s\n", cfg.Seed, cfg.OutDir)
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	rep, err := testnet.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	if !rep.Passed() {
		return fmt.Errorf("chaos run failed: %s (seed %d)", strings.Join(rep.Failed(), ", "), rep.Seed)
	}
	return nil
}
