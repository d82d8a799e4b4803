package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// benchFlags are the flags of `cassnet bench`.
type benchFlags struct {
	bin, dir, etcd, nats string
	nodes, clients       int
	duration, warmup     time.Duration
	messaging            time.Duration
	rounds               int
	verify               bool
	agentArgs            string
	cpuProfile           string
	kills                int
	json                 bool
	suite                string
	serversPerNode       int
	phases               string
}

// benchPhases are the phases --phases may name, in the order they run.
var benchPhases = []string{"rest", "messaging", "verify", "failure"}

// applyPhases turns --phases off for every phase it does not name ("all"
// keeps them all). A named phase still obeys its own flag (--messaging 0,
// --verify=false, --kills 0 skip it).
func (f *benchFlags) applyPhases() (noREST bool, err error) {
	if f.phases == "all" {
		return false, nil
	}
	on := map[string]bool{}
	for _, p := range strings.Split(f.phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(benchPhases, p) {
			return false, fmt.Errorf("bench: --phases: unknown phase %q (want all or a comma-separated list of %s)", p, strings.Join(benchPhases, ", "))
		}
		on[p] = true
	}
	if !on["messaging"] {
		f.messaging = 0
	}
	if !on["verify"] {
		f.verify = false
	}
	if !on["failure"] {
		f.kills = 0
	}
	return !on["rest"], nil
}

const benchSynopsis = `Usage: cassnet bench [flags]

Starts a cassnet cluster on 127.0.0.1..N beside a 3-member etcd cluster
and a 3-server NATS cluster (where their binaries are found), and measures
ban writes and stale ban checks through REST, topic messaging (REST + SSE,
and the streaming protocol), session verification on one node and failure
detection. The write and read phases run in rounds (--rounds), back to
back with the same workload on etcd (puts and serializable range reads
through its JSON gateway), and so do the streaming phases with the same
messaging on NATS. It ends with one table of ratios, each the median of
the rounds' own ratios.

--suite alloc measures allocations instead: game servers register on every
node over gRPC, matchmakers allocate them over REST (a fresh idempotency
key each), and every allocated server is sent Ready again at once, so
capacity never runs out.`

func runBench(args []string) error {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, benchSynopsis)
	fs.StringVar(&f.bin, "bin", "", "the cassnet binary to start (default: this one)")
	fs.IntVar(&f.nodes, "nodes", 3, "number of cassnet agents (at most 254)")
	fs.IntVar(&f.clients, "clients", 64, "concurrent clients; client i talks to node i % nodes")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "measured time of each phase")
	fs.DurationVar(&f.warmup, "warmup", 3*time.Second, "unmeasured time before each phase")
	fs.StringVar(&f.dir, "dir", "", "parent of the run's data dirs and logs (default: a temp dir, removed on success)")
	fs.StringVar(&f.etcd, "etcd", "auto", "etcd peer: auto (etcd from PATH if present), off, or the path of an etcd binary")
	fs.StringVar(&f.nats, "nats", "auto", "NATS peer: auto (nats-server from PATH if present), off, or the path of a nats-server binary")
	fs.DurationVar(&f.messaging, "messaging", 10*time.Second, "publishing time of each messaging phase (0: no messaging phases)")
	fs.IntVar(&f.rounds, "rounds", 3, "rounds of the REST and streaming phases, each back to back with the peer's (etcd, NATS); a ratio is the median of the rounds' own ratios")
	fs.BoolVar(&f.verify, "verify", true, "also measure session verification over REST on node 1")
	fs.StringVar(&f.agentArgs, "agent-args", "", "extra flags for every cassnet agent, space-separated (e.g. \"--pubsub-batch-max 64\")")
	fs.IntVar(&f.kills, "kills", 10, "kill -9 the last node this many times and time its failure detection on node 1 (0: skip)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator (this process) to this file")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	fs.StringVar(&f.suite, "suite", "rest", "rest (ban writes and reads, beside etcd) or alloc (allocations)")
	fs.IntVar(&f.serversPerNode, "servers-per-node", 200, "alloc suite: game servers registered on each node (at most 256)")
	fs.StringVar(&f.phases, "phases", "all", "rest suite: the phases to run, all or a comma-separated list of rest (ban writes and reads, and etcd), messaging, verify, failure")
	if _, err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.nodes < 1 || f.nodes > 254 || f.clients < 1 || f.duration <= 0 || f.warmup < 0 {
		return errors.New("bench: need 1-254 nodes, at least one client and a positive duration")
	}
	if f.rounds < 1 || f.rounds > 99 {
		return fmt.Errorf("bench: --rounds must be 1-99, not %d", f.rounds)
	}
	if f.suite != "rest" && f.suite != "alloc" {
		return fmt.Errorf("bench: --suite must be rest or alloc, not %q", f.suite)
	}
	noREST, err := f.applyPhases()
	if err != nil {
		return err
	}
	if f.bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own binary: %w", err)
		}
		f.bin = exe
	}
	if f.cpuProfile != "" {
		fh, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer fh.Close()
		if err := pprof.StartCPUProfile(fh); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp(f.dir, "cassnet-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	opts := testnet.BenchOptions{
		Bin: f.bin, Nodes: f.nodes, Clients: f.clients, Duration: f.duration, Warmup: f.warmup,
		Etcd: f.etcd, NATS: f.nats, Messaging: f.messaging, Rounds: f.rounds, Verify: f.verify, NoREST: noREST, AgentArgs: strings.Fields(f.agentArgs), Kills: f.kills, Version: version, Progress: os.Stderr,
	}
	if f.suite == "alloc" {
		return runAllocBench(ctx, f, opts, dir)
	}
	rep, err := testnet.Benchmark(ctx, opts, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: data dirs and logs kept in %s\n", dir)
		return err
	}
	if f.dir == "" {
		_ = os.RemoveAll(dir)
	}
	if f.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBench(os.Stdout, rep)
	return nil
}

// printBench writes the human-readable table.
func printBench(w io.Writer, r *testnet.BenchReport) {
	m := r.Machine
	fmt.Fprintf(w, "cassnet bench, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %s, %d CPUs, %s, %s, load average %s at start\n", m.CPU, m.NumCPU, m.OSArch, m.GoVersion, m.LoadAvg)
	fmt.Fprintf(w, "load: %d cassnet nodes, %d clients, %s measured after %s warm-up per phase, ~%d-byte records\n",
		r.Nodes, r.Clients, r.Duration, r.Warmup, r.Cassnet.ValueBytes)
	fmt.Fprintf(w, "rounds: %d, each side's phases back to back with the peer's; below, each figure is the median of the rounds\n\n", r.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	sides := []*testnet.BenchSide{r.Cassnet}
	header := "\t" + r.Cassnet.System + "\t"
	if r.Etcd != nil {
		sides = append(sides, r.Etcd)
		header += r.Etcd.System + "\tcassnet/etcd\t"
	}
	fmt.Fprintln(tw, header)
	row := func(name string, val func(*testnet.BenchSide) float64, format string) {
		line := name + "\t"
		for _, s := range sides {
			line += fmt.Sprintf(format, val(s)) + "\t"
		}
		if len(sides) == 2 {
			line += fmt.Sprintf("%.2f\t", testnet.BenchDiv(val(sides[0]), val(sides[1])))
		}
		fmt.Fprintln(tw, line)
	}
	row("writes/s", func(s *testnet.BenchSide) float64 { return s.Writes.PerSec }, "%.0f")
	row("write p50 ms", func(s *testnet.BenchSide) float64 { return s.Writes.P50Ms }, "%.2f")
	row("write p90 ms", func(s *testnet.BenchSide) float64 { return s.Writes.P90Ms }, "%.2f")
	row("write p99 ms", func(s *testnet.BenchSide) float64 { return s.Writes.P99Ms }, "%.2f")
	row("write max ms", func(s *testnet.BenchSide) float64 { return s.Writes.MaxMs }, "%.2f")
	row("stale reads/s", func(s *testnet.BenchSide) float64 { return s.Reads.PerSec }, "%.0f")
	row("read p50 ms", func(s *testnet.BenchSide) float64 { return s.Reads.P50Ms }, "%.2f")
	row("read p99 ms", func(s *testnet.BenchSide) float64 { return s.Reads.P99Ms }, "%.2f")
	row("peak RSS MiB, largest node", func(s *testnet.BenchSide) float64 { return s.PeakRSSMiB }, "%.0f")
	tw.Flush()
	if r.CassnetPeakRSSAllPhasesMiB > 0 {
		fmt.Fprintf(w, "cassnet peak RSS after every load phase, largest node: %.0f MiB\n", r.CassnetPeakRSSAllPhasesMiB)
	}
	for _, s := range sides {
		fmt.Fprintf(w, "%s errors: writes %s, reads %s\n", s.System, benchErrors(s.Writes.Errors), benchErrors(s.Reads.Errors))
	}
	if r.EtcdNote != "" {
		fmt.Fprintln(w, "note:", r.EtcdNote)
	}
	printMessaging(w, r)
	if v := r.Verify; v != nil {
		fmt.Fprintf(w, "\nsession verify on %s: %.0f/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors %s\n",
			v.Node, v.PerSec, v.P50Ms, v.P99Ms, v.MaxMs, benchErrors(v.Errors))
	}
	printRatios(w, r)
}

// benchErrors formats error counts as "none" or "HTTP 503: 4, timeout: 1".
func benchErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range errs {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// printMessaging writes the messaging table: one row per phase.
func printMessaging(w io.Writer, r *testnet.BenchReport) {
	m := r.Messaging
	if m == nil {
		return
	}
	fmt.Fprintf(w, "\nmessaging: 1 KiB, publish on the last node, subscribe on the first, window %d in flight\n", 4096)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tpublished\tunacked\tdelivered\tmsgs/s\tCPU µs/msg\tp50 ms\tp99 ms\tmax ms\tgapped\tsilent drops\tdups\terrors\t")
	row := func(name string, p testnet.MsgPhase) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%s\t\n", name, p.Published, p.Unacknowledged, p.Delivered, p.PerSec,
			p.CPUMicrosPerMsg, p.P50Ms, p.P99Ms, p.MaxMs, p.Gapped, p.SilentDrops, p.Duplicates, benchErrors(p.Errors))
	}
	row("cassnet REST+SSE, unpaced", m.RESTThroughput)
	row(fmt.Sprintf("cassnet REST+SSE, %.0f/s", m.RESTLatency.Rate), m.RESTLatency)
	var natsThr, natsLat []testnet.MsgPhase
	natsName := ""
	if n := r.NATS; n != nil {
		natsThr, natsLat, natsName = n.ThroughputRounds, n.LatencyRounds, n.System
	}
	rounds := func(shape string, cassnet, nats []testnet.MsgPhase) {
		for i, p := range cassnet {
			round := ""
			if len(cassnet) > 1 {
				round = fmt.Sprintf(", round %d", i+1)
			}
			row(fmt.Sprintf("cassnet stream, %s%s", phaseRate(shape, p), round), p)
			if i < len(nats) {
				row(fmt.Sprintf("%s, %s%s", natsName, phaseRate(shape, nats[i]), round), nats[i])
			}
		}
	}
	rounds("unpaced", m.StreamThroughputRounds, natsThr)
	rounds("paced", m.StreamLatencyRounds, natsLat)
	tw.Flush()
	if r.NATSNote != "" {
		fmt.Fprintln(w, "note:", r.NATSNote)
	}
}

// phaseRate names a phase's rate: unpaced, or what a paced phase reached.
func phaseRate(shape string, p testnet.MsgPhase) string {
	if shape == "unpaced" {
		return shape
	}
	return fmt.Sprintf("%.0f/s", p.Rate)
}

// printRatios writes the one table of ratios against the peers and the
// goals of issue 17.
func printRatios(w io.Writer, r *testnet.BenchReport) {
	fmt.Fprintln(w, "\nratios (cassnet / peer, same run)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tcassnet\tpeer\tratio\tgoal\t")
	row := func(what string, a, b float64, format, goal string) {
		ratio := "-"
		if b > 0 {
			ratio = fmt.Sprintf("%.3f", a/b)
		}
		peer := "-"
		if b > 0 {
			peer = fmt.Sprintf(format, b)
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t%s\t%s\t%s\t\n", what, a, peer, ratio, goal)
	}
	var etcdW, etcdP99, etcdR float64
	if r.Etcd != nil {
		etcdW, etcdP99, etcdR = r.Etcd.Writes.PerSec, r.Etcd.Writes.P99Ms, r.Etcd.Reads.PerSec
	}
	// paired is a row whose ratio is the median of the rounds' own ratios.
	paired := func(what string, a, b, ratio float64, format, goal string) {
		if b <= 0 {
			row(what, a, b, format, goal)
			return
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%.3f\t%s\t\n", what, a, b, ratio, goal)
	}
	var q testnet.BenchRatio
	if r.Ratio != nil {
		q = *r.Ratio
	}
	paired("writes/s vs etcd", r.Cassnet.Writes.PerSec, etcdW, q.WritesPerSec, "%.0f", ">= 1.0")
	paired("write p99 ms vs etcd", r.Cassnet.Writes.P99Ms, etcdP99, q.WriteP99, "%.2f", "<= 1.0")
	paired("stale reads/s vs etcd", r.Cassnet.Reads.PerSec, etcdR, q.ReadsPerSec, "%.0f", "")
	if m := r.Messaging; m != nil {
		var nt, nl float64
		if r.NATS != nil {
			nt, nl = r.NATS.Throughput.PerSec, r.NATS.Latency.P99Ms
		}
		rounds := len(m.StreamThroughputRounds)
		if q := r.MsgRatio; q != nil {
			// Each ratio is the median of the rounds' own ratios (phases
			// seconds apart), not the ratio of the two medians.
			fmt.Fprintf(tw, "msgs/s stream vs NATS, median of %d rounds\t%.0f\t%.0f\t%.3f\t>= 0.5\t\n", rounds, m.StreamThroughput.PerSec, nt, q.StreamPerSec)
			if q.StreamPerCPU > 0 {
				fmt.Fprintf(tw, "msgs per CPU-s, stream vs NATS, median\t%.0f\t%.0f\t%.3f\t>= 0.5\t\n", cpuRate(m.StreamThroughput), cpuRate(r.NATS.Throughput), q.StreamPerCPU)
			}
		} else {
			row("msgs/s stream vs NATS", m.StreamThroughput.PerSec, nt, "%.0f", ">= 0.5")
		}
		row("msgs/s REST vs NATS", m.RESTThroughput.PerSec, nt, "%.0f", "")
		if q := r.MsgRatio; q != nil {
			paired(fmt.Sprintf("p99 ms at 1000/s, stream vs NATS, median of %d", len(m.StreamLatencyRounds)), m.StreamLatency.P99Ms, nl, q.StreamP99, "%.2f", "<= 5 ms")
		} else {
			row("p99 ms at 1000/s, stream vs NATS", m.StreamLatency.P99Ms, nl, "%.2f", "<= 5 ms")
		}
		row("p99 ms at 1000/s, REST vs NATS", m.RESTLatency.P99Ms, nl, "%.2f", "<= 5 ms")
		fmt.Fprintf(tw, "silent drops (all cassnet phases)\t%d\t-\t-\t0\t\n", m.SilentDrops())
		fmt.Fprintf(tw, "duplicate deliveries (all cassnet phases)\t%d\t-\t-\t0\t\n", m.Duplicates())
	}
	if v := r.Verify; v != nil {
		row("session verify/s, one node", v.PerSec, 20000, "%.0f", ">= 1.0 (of 20k/s)")
	}
	if fd := r.Failure; fd != nil {
		row(fmt.Sprintf("failure detection s, median of %d kill -9s", len(fd.Seconds)), fd.MedianS, 3, "%.2f", "<= 1.0 (of 3 s)")
		fmt.Fprintf(tw, "failure detection s, max\t%.2f\t-\t-\t\t\n", fd.MaxS)
	}
	if r.SuspicionsUnderLoad >= 0 {
		fmt.Fprintf(tw, "false suspicions under load\t%d\t-\t-\t0\t\n", r.SuspicionsUnderLoad)
	}
	if r.ElectionsUnderLoad >= 0 {
		fmt.Fprintf(tw, "false elections under load (raft term moves)\t%d\t-\t-\t0\t\n", r.ElectionsUnderLoad)
	}
	tw.Flush()
	fmt.Fprintln(w, "(a ratio is the median of the rounds' own ratios, each between phases seconds apart)")
	if q := r.Ratio; q != nil && len(q.WritesPerSecRounds) > 1 {
		fmt.Fprintf(w, "writes/s vs etcd by round: %s\n", formatRatios(q.WritesPerSecRounds))
		fmt.Fprintf(w, "write p99 vs etcd by round: %s\n", formatRatios(q.WriteP99Rounds))
	}
	if q := r.MsgRatio; q != nil && len(q.StreamPerSecRounds) > 1 {
		fmt.Fprintf(w, "msgs/s stream vs NATS by round: %s\n", formatRatios(q.StreamPerSecRounds))
	}
}

// cpuRate is messages per CPU-second of a phase (0 if unknown).
func cpuRate(p testnet.MsgPhase) float64 {
	if p.CPUMicrosPerMsg <= 0 {
		return 0
	}
	return 1e6 / p.CPUMicrosPerMsg
}

// formatRatios lists ratios as "0.512, 0.488, 0.530".
func formatRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.3f", r)
	}
	return strings.Join(parts, ", ")
}

// runAllocBench runs the allocation suite and prints it.
func runAllocBench(ctx context.Context, f benchFlags, opts testnet.BenchOptions, dir string) error {
	rep, err := testnet.BenchmarkAllocations(ctx, testnet.AllocBenchOptions{BenchOptions: opts, ServersPerNode: f.serversPerNode}, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: data dirs and logs kept in %s\n", dir)
		return err
	}
	if f.dir == "" {
		_ = os.RemoveAll(dir)
	}
	if f.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	m, a := rep.Machine, rep.Allocations
	fmt.Printf("cassnet bench --suite alloc, %s (%s)\n", rep.Date, rep.System)
	fmt.Printf("machine: %s, %d CPUs, %s, %s, load average %s at start\n", m.CPU, m.NumCPU, m.OSArch, m.GoVersion, m.LoadAvg)
	fmt.Printf("load: %d nodes, %d game servers, %d matchmaker clients, %s measured after %s warm-up\n\n",
		rep.Nodes, rep.Servers, rep.Clients, rep.Duration, rep.Warmup)
	fmt.Printf("allocations/s  %.0f\n", a.PerSec)
	fmt.Printf("p50 / p90 / p99 / max ms  %.2f / %.2f / %.2f / %.2f\n", a.P50Ms, a.P90Ms, a.P99Ms, a.MaxMs)
	fmt.Printf("errors: %s; servers returned to ready: %d (%d Ready calls failed)\n", benchErrors(a.Errors), rep.Recycled, rep.RecycleErrors)
	return nil
}
