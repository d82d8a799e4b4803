package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// benchFlags are the flags of `cassnet bench`.
type benchFlags struct {
	bin, dir, etcd   string
	nodes, clients   int
	duration, warmup time.Duration
	json             bool
}

const benchSynopsis = `Usage: cassnet bench [flags]

Starts a cassnet cluster on 127.0.0.1..N and measures ban writes and stale
ban checks through REST, then the same workload against a 3-member etcd
cluster (puts and serializable range reads through its JSON gateway).`

// benchTenant is the tenant every ban of the run goes to.
const benchTenant = "bench"

// benchReason pads a ban to a realistic record size.
const benchReason = "cassnet bench: automated load test ban, safe to ignore"

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
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	if _, err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.nodes < 1 || f.nodes > 254 || f.clients < 1 || f.duration <= 0 || f.warmup < 0 {
		return errors.New("bench: need 1-254 nodes, at least one client and a positive duration")
	}
	if f.bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find own binary: %w", err)
		}
		f.bin = exe
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp(f.dir, "cassnet-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep, err := bench(ctx, f, dir)
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

// bench runs both sides and builds the report.
func bench(ctx context.Context, f benchFlags, dir string) (*benchReport, error) {
	rep := &benchReport{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: benchMachine(),
		Nodes: f.nodes, Clients: f.clients,
		Duration: f.duration.String(), Warmup: f.warmup.String(),
	}
	load := testnet.LoadConfig{Clients: f.clients, Warmup: f.warmup, Duration: f.duration}
	res, valueSize, err := benchCassnet(ctx, f, filepath.Join(dir, "cassnet"), load)
	if err != nil {
		return nil, fmt.Errorf("bench cassnet: %w", err)
	}
	rep.Cassnet = newSide("cassnet "+version, res, valueSize)

	etcdBin, note := findEtcd(f.etcd)
	if etcdBin == "" {
		rep.EtcdNote = note
		fmt.Fprintln(os.Stderr, "bench:", note)
		return rep, nil
	}
	res, err = benchEtcd(ctx, etcdBin, filepath.Join(dir, "etcd"), load, valueSize)
	if err != nil {
		return nil, fmt.Errorf("bench etcd: %w", err)
	}
	rep.Etcd = newSide(etcdVersion(etcdBin), res, valueSize)
	rep.Ratio = &benchRatio{
		WritesPerSec: benchDiv(rep.Cassnet.Writes.PerSec, rep.Etcd.Writes.PerSec),
		WriteP99:     benchDiv(rep.Cassnet.Writes.P99Ms, rep.Etcd.Writes.P99Ms),
		ReadsPerSec:  benchDiv(rep.Cassnet.Reads.PerSec, rep.Etcd.Reads.PerSec),
	}
	return rep, nil
}

// benchCassnet starts the agents, waits for the voters, creates the tenant
// and runs the load. It also returns the size of one ban's JSON.
func benchCassnet(ctx context.Context, f benchFlags, dir string, load testnet.LoadConfig) (testnet.BenchResult, int, error) {
	var res testnet.BenchResult
	c, err := testnet.NewCluster(testnet.Config{
		Bin: f.bin, Dir: dir,
		AgentArgs: []string{"--stabilization-time", "1s", "--log-level", "warn"},
	})
	if err != nil {
		return res, 0, err
	}
	defer c.Shutdown()
	fmt.Fprintf(os.Stderr, "bench: starting %d cassnet agents in %s\n", f.nodes, dir)
	for i := 1; i <= f.nodes; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			return res, 0, err
		}
	}
	cl := &testnet.Client{Token: c.AdminToken(), HTTP: testnet.NewLoadHTTPClient(f.clients)}
	defer cl.HTTP.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := testnet.WaitVoters(wctx, cl, c.Nodes(), min(f.nodes, 3)); err != nil {
		return res, 0, fmt.Errorf("cluster did not settle: %w", err)
	}
	var addrs []string
	for _, n := range c.Nodes() {
		addrs = append(addrs, n.HTTPAddr())
	}
	if err := benchPost(ctx, cl, addrs[0], "/v1/tenants", map[string]string{"name": benchTenant}); err != nil {
		return res, 0, fmt.Errorf("create tenant: %w", err)
	}
	probe := map[string]string{"player_id": "probe", "reason": benchReason}
	resp, err := cl.Do(ctx, http.MethodPost, addrs[0], "/v1/tenants/"+benchTenant+"/bans", probe)
	if err != nil {
		return res, 0, fmt.Errorf("probe ban: %w", err)
	}
	if resp.Status != http.StatusCreated {
		return res, 0, fmt.Errorf("probe ban: %w", &testnet.StatusError{Status: resp.Status, Body: string(resp.Body)})
	}
	fmt.Fprintf(os.Stderr, "bench: cassnet ready; %d clients, %s warm-up + %s per phase\n", f.clients, load.Warmup, load.Duration)
	target := &testnet.BanLoad{Client: cl, Tenant: benchTenant, Addrs: addrs, Reason: benchReason}
	res, err = testnet.RunBench(ctx, target, load)
	return res, len(resp.Body), err
}

// benchPost POSTs body and wants 201.
func benchPost(ctx context.Context, cl *testnet.Client, addr, path string, body any) error {
	resp, err := cl.Do(ctx, http.MethodPost, addr, path, body)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusCreated {
		return &testnet.StatusError{Status: resp.Status, Body: string(resp.Body)}
	}
	return nil
}

// benchEtcd starts a 3-member etcd cluster and runs the same load.
func benchEtcd(ctx context.Context, bin, dir string, load testnet.LoadConfig, valueSize int) (testnet.BenchResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return testnet.BenchResult{}, err
	}
	fmt.Fprintf(os.Stderr, "bench: starting 3 etcd members (%s) in %s\n", bin, dir)
	e, err := testnet.StartEtcd(ctx, testnet.EtcdConfig{Bin: bin, Dir: dir, IPs: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}})
	if err != nil {
		return testnet.BenchResult{}, err
	}
	defer e.Stop()
	hc := testnet.NewLoadHTTPClient(load.Clients)
	defer hc.CloseIdleConnections()
	fmt.Fprintf(os.Stderr, "bench: etcd ready (gateway %s)\n", e.GatewayPrefix())
	return testnet.RunBench(ctx, e.Load(hc, valueSize), load)
}

// findEtcd resolves --etcd to a binary, or "" and why not.
func findEtcd(flag string) (bin, note string) {
	switch flag {
	case "off":
		return "", "etcd comparison off (--etcd off)"
	case "auto", "":
		p, err := exec.LookPath("etcd")
		if err != nil {
			return "", "no etcd in PATH; skipping the etcd comparison (apt-get install etcd-server)"
		}
		return p, ""
	default:
		return flag, ""
	}
}

// etcdVersion is "etcd <version>" from `etcd --version`.
func etcdVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			return "etcd " + strings.TrimSpace(v)
		}
	}
	return "etcd"
}

// benchReport is everything one run measured.
type benchReport struct {
	Date     string           `json:"date"`
	Machine  benchMachineInfo `json:"machine"`
	Nodes    int              `json:"nodes"`
	Clients  int              `json:"clients"`
	Duration string           `json:"duration"`
	Warmup   string           `json:"warmup"`
	Cassnet  *benchSide       `json:"cassnet"`
	Etcd     *benchSide       `json:"etcd,omitempty"`
	EtcdNote string           `json:"etcd_note,omitempty"`
	Ratio    *benchRatio      `json:"cassnet_over_etcd,omitempty"`
}

type benchMachineInfo struct {
	CPU       string `json:"cpu"`
	NumCPU    int    `json:"num_cpu"`
	OSArch    string `json:"os_arch"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run began: other
	// work on the machine skews every number.
	LoadAvg string `json:"load_avg_1m"`
}

type benchSide struct {
	System     string     `json:"system"`
	ValueBytes int        `json:"value_bytes"`
	Writes     benchPhase `json:"writes"`
	Reads      benchPhase `json:"reads"`
}

type benchPhase struct {
	PerSec float64        `json:"per_sec"`
	OK     int            `json:"ok"`
	Errors map[string]int `json:"errors"`
	MeanMs float64        `json:"mean_ms"`
	P50Ms  float64        `json:"p50_ms"`
	P90Ms  float64        `json:"p90_ms"`
	P99Ms  float64        `json:"p99_ms"`
	MaxMs  float64        `json:"max_ms"`
}

type benchRatio struct {
	WritesPerSec float64 `json:"writes_per_sec"`
	WriteP99     float64 `json:"write_p99"`
	ReadsPerSec  float64 `json:"reads_per_sec"`
}

func newSide(system string, r testnet.BenchResult, valueSize int) *benchSide {
	return &benchSide{System: system, ValueBytes: valueSize, Writes: newPhase(r.Writes), Reads: newPhase(r.Reads)}
}

func newPhase(r testnet.LoadResult) benchPhase {
	l := r.Latency
	return benchPhase{
		PerSec: r.PerSecond(), OK: r.OK, Errors: r.Errors,
		MeanMs: benchMs(l.Mean), P50Ms: benchMs(l.P50), P90Ms: benchMs(l.P90), P99Ms: benchMs(l.P99), MaxMs: benchMs(l.Max),
	}
}

func benchMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// benchMachine describes the host: CPU model, cores, platform, Go version.
func benchMachine() benchMachineInfo {
	m := benchMachineInfo{CPU: "unknown", NumCPU: runtime.NumCPU(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg, _, _ = strings.Cut(string(b), " ")
	}
	if fh, err := os.Open("/proc/cpuinfo"); err == nil {
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// printBench writes the human-readable table.
func printBench(w io.Writer, r *benchReport) {
	m := r.Machine
	fmt.Fprintf(w, "cassnet bench, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %s, %d CPUs, %s, %s, load average %s at start\n", m.CPU, m.NumCPU, m.OSArch, m.GoVersion, m.LoadAvg)
	fmt.Fprintf(w, "load: %d cassnet nodes, %d clients, %s measured after %s warm-up per phase, ~%d-byte records\n\n",
		r.Nodes, r.Clients, r.Duration, r.Warmup, r.Cassnet.ValueBytes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	sides := []*benchSide{r.Cassnet}
	header := "\t" + r.Cassnet.System + "\t"
	if r.Etcd != nil {
		sides = append(sides, r.Etcd)
		header += r.Etcd.System + "\tcassnet/etcd\t"
	}
	fmt.Fprintln(tw, header)
	row := func(name string, val func(*benchSide) float64, format string) {
		line := name + "\t"
		for _, s := range sides {
			line += fmt.Sprintf(format, val(s)) + "\t"
		}
		if len(sides) == 2 {
			line += fmt.Sprintf("%.2f\t", benchDiv(val(sides[0]), val(sides[1])))
		}
		fmt.Fprintln(tw, line)
	}
	row("writes/s", func(s *benchSide) float64 { return s.Writes.PerSec }, "%.0f")
	row("write p50 ms", func(s *benchSide) float64 { return s.Writes.P50Ms }, "%.2f")
	row("write p90 ms", func(s *benchSide) float64 { return s.Writes.P90Ms }, "%.2f")
	row("write p99 ms", func(s *benchSide) float64 { return s.Writes.P99Ms }, "%.2f")
	row("write max ms", func(s *benchSide) float64 { return s.Writes.MaxMs }, "%.2f")
	row("stale reads/s", func(s *benchSide) float64 { return s.Reads.PerSec }, "%.0f")
	row("read p50 ms", func(s *benchSide) float64 { return s.Reads.P50Ms }, "%.2f")
	row("read p99 ms", func(s *benchSide) float64 { return s.Reads.P99Ms }, "%.2f")
	tw.Flush()
	for _, s := range sides {
		fmt.Fprintf(w, "%s errors: writes %s, reads %s\n", s.System, benchErrors(s.Writes.Errors), benchErrors(s.Reads.Errors))
	}
	if r.EtcdNote != "" {
		fmt.Fprintln(w, "note:", r.EtcdNote)
	}
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
