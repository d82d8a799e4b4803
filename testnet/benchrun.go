package testnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// benchTenant is the tenant every ban of the run goes to.
const benchTenant = "bench"

// benchReason pads a ban to a realistic record size.
const benchReason = "cassnet bench: automated load test ban, safe to ignore"

// BenchOptions configures Benchmark.
type BenchOptions struct {
	// Bin is the cassnet binary to start.
	Bin string
	// Nodes agents run on 127.0.0.1..Nodes; Clients load them, client i
	// talking to node i % Nodes.
	Nodes, Clients int
	// Duration is each phase's measured window, after Warmup.
	Duration, Warmup time.Duration
	// Etcd is "auto" (etcd from PATH), "off", or an etcd binary.
	Etcd string
	// NATS is "auto" (nats-server from PATH), "off", or a nats-server
	// binary: the messaging peer.
	NATS string
	// Messaging is each messaging phase's publishing time (0: skip the
	// messaging phases).
	Messaging time.Duration
	// Rounds is how many times the streaming phases run, alternating
	// with the peer's (benchrounds.go); at least 1.
	Rounds int
	// Kills is how many times the failure-detection phase kills a node
	// (0: no such phase).
	Kills int
	// AgentArgs are extra flags for every cassnet agent.
	AgentArgs []string
	// Verify, if set, also measures session verification on node 1 with
	// Clients clients for Duration.
	Verify bool
	// NoREST skips the ban write and stale read phases, and with them the
	// etcd comparison (to profile one of the other phases alone).
	NoREST bool
	// Version names the cassnet build in the report.
	Version string
	// Progress receives one line per step (default: discarded).
	Progress io.Writer
}

// Benchmark starts a cassnet cluster in dir beside a 3-member etcd
// cluster and a 3-server NATS cluster where they are available, and
// measures ban writes and stale ban checks through REST in rounds
// alternating with the same workload on etcd, then messaging in rounds
// alternating with NATS (benchrounds.go), session verification and
// failure detection; it reports every side by side.
func Benchmark(ctx context.Context, f BenchOptions, dir string) (*BenchReport, error) {
	if f.Progress == nil {
		f.Progress = io.Discard
	}
	rep := &BenchReport{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: benchMachine(),
		Nodes: f.Nodes, Clients: f.Clients,
		Duration: f.Duration.String(), Warmup: f.Warmup.String(), Rounds: max(f.Rounds, 1),
	}
	load := LoadConfig{Clients: f.Clients, Warmup: f.Warmup, Duration: f.Duration}
	// The peers start first: their phases alternate with cassnet's.
	var peers benchPeers
	var natsName, etcdName string
	if f.Messaging > 0 {
		natsBin, note := findPeer(f.NATS, "nats-server", "NATS", "nats-server")
		if natsBin == "" {
			rep.NATSNote = note
			fmt.Fprintln(f.Progress, "bench:", note)
		} else {
			fmt.Fprintf(f.Progress, "bench: starting 3 nats-server processes (%s)\n", natsBin)
			n, err := StartNATS(natsBin, filepath.Join(dir, "nats"))
			if err != nil {
				return nil, fmt.Errorf("bench nats: %w", err)
			}
			defer n.Stop()
			peers.nats, natsName = &natsSystem{n: n, d: f.Messaging}, NATSVersion(natsBin)
		}
	}
	if !f.NoREST {
		etcdBin, note := findPeer(f.Etcd, "etcd", "etcd", "etcd-server")
		if etcdBin == "" {
			rep.EtcdNote = note
			fmt.Fprintln(f.Progress, "bench:", note)
		} else {
			e, err := startBenchEtcd(ctx, f.Progress, etcdBin, filepath.Join(dir, "etcd"))
			if err != nil {
				return nil, fmt.Errorf("bench etcd: %w", err)
			}
			defer e.Stop()
			peers.etcd, etcdName = e, etcdVersion(etcdBin)
		}
	}
	res, err := benchCassnet(ctx, f, filepath.Join(dir, "cassnet"), load, peers)
	if err != nil {
		return nil, fmt.Errorf("bench cassnet: %w", err)
	}
	rep.Cassnet = newRoundsSide("cassnet "+f.Version, res.restRounds, res.valueSize)
	rep.Messaging, rep.Verify, rep.Failure, rep.SuspicionsUnderLoad = res.msg, res.verify, res.fail, res.suspicions
	rep.ElectionsUnderLoad = res.elections
	rep.Cassnet.PeakRSSMiB, rep.CassnetPeakRSSAllPhasesMiB = res.peakRSSREST, res.peakRSSAll
	if peers.nats != nil && res.msg != nil {
		thr, lat := res.peerMsg[0], res.peerMsg[1]
		rep.NATS = &NATSMsg{System: natsName, Throughput: medianPhase(thr, phasePerSec), Latency: medianPhase(lat, phaseP99),
			ThroughputRounds: thr, LatencyRounds: lat}
		rep.MsgRatio = newMsgRatios(res.msg.StreamThroughputRounds, thr, res.msg.StreamLatencyRounds, lat)
	}
	if peers.etcd != nil && !f.NoREST {
		rep.Etcd = newRoundsSide(etcdName, res.etcdRounds, res.valueSize)
		rep.Etcd.PeakRSSMiB = res.etcdPeakRSS
		rep.Ratio = newBenchRatio(rep.Cassnet, rep.Etcd)
	}
	return rep, nil
}

// benchPeers are the peer clusters that are up while cassnet runs, nil
// where a peer is off or missing.
type benchPeers struct {
	nats *natsSystem
	etcd *Etcd
}

// cassnetRun is everything measured on the cassnet cluster, and the
// peers' rounds that alternated with its own.
type cassnetRun struct {
	msg    *CassnetMsg
	verify *VerifyPhase
	fail   *FailurePhase
	// suspicions during the load phases (writes, reads, messaging,
	// verification), summed over the nodes; -1 if unknown.
	suspicions int
	// elections: how far the Raft term moved in the same phases (-1:
	// not measured); every change is a false election.
	elections int
	// peerMsg is the messaging peer's phases by rate and round.
	peerMsg [][]MsgPhase
	// restRounds and etcdRounds are the REST rounds of cassnet and of
	// etcd (nil without etcd); etcdPeakRSS is etcd's largest member's
	// peak resident set after them, in MiB; valueSize is the size of one
	// ban's JSON, the size of etcd's values.
	restRounds, etcdRounds []BenchResult
	etcdPeakRSS            float64
	valueSize              int
	// peakRSSREST and peakRSSAll are the largest node's peak resident
	// set after the REST phases and after every load phase, in MiB.
	peakRSSREST, peakRSSAll float64
}

// benchCassnet starts the agents, waits for the voters, creates the tenant
// and runs the REST rounds (beside peers.etcd's), then the messaging
// phases (beside peers.nats's) and the verification phase.
func benchCassnet(ctx context.Context, f BenchOptions, dir string, load LoadConfig, peers benchPeers) (cassnetRun, error) {
	var res cassnetRun
	c, err := NewCluster(Config{
		Bin: f.Bin, Dir: dir,
		AgentArgs: append([]string{"--stabilization-time", "1s", "--log-level", "warn"}, f.AgentArgs...),
	})
	if err != nil {
		return res, err
	}
	defer c.Shutdown()
	fmt.Fprintf(f.Progress, "bench: starting %d cassnet agents in %s\n", f.Nodes, dir)
	for i := 1; i <= f.Nodes; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			return res, err
		}
	}
	cl := &Client{Token: c.AdminToken(), HTTP: NewLoadHTTPClient(f.Clients)}
	defer cl.HTTP.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := WaitVoters(wctx, cl, c.Nodes(), min(f.Nodes, 3)); err != nil {
		return res, fmt.Errorf("cluster did not settle: %w", err)
	}
	var addrs []string
	for _, n := range c.Nodes() {
		addrs = append(addrs, n.HTTPAddr())
	}
	if err := benchPost(ctx, cl, addrs[0], "/v1/tenants", map[string]string{"name": benchTenant}); err != nil {
		return res, fmt.Errorf("create tenant: %w", err)
	}
	probe := map[string]string{"player_id": "probe", "reason": benchReason}
	resp, err := cl.Do(ctx, http.MethodPost, addrs[0], "/v1/tenants/"+benchTenant+"/bans", probe)
	if err != nil {
		return res, fmt.Errorf("probe ban: %w", err)
	}
	if resp.Status != http.StatusCreated {
		return res, fmt.Errorf("probe ban: %w", &StatusError{Status: resp.Status, Body: string(resp.Body)})
	}
	fmt.Fprintf(f.Progress, "bench: cassnet ready; %d clients, %s warm-up + %s per phase\n", f.Clients, load.Warmup, load.Duration)
	target := &BanLoad{Client: cl, Tenant: benchTenant, Addrs: addrs, Reason: benchReason}
	before, serr := suspicions(ctx, c.Nodes())
	termBefore, terr := maxTerm(ctx, c.Nodes())
	var pids []int
	for _, n := range c.Nodes() {
		pids = append(pids, n.Pid())
	}
	res.valueSize = len(resp.Body)
	if !f.NoREST {
		systems := []restSystem{{"cassnet", target}}
		var etcdHTTP *http.Client
		if peers.etcd != nil {
			etcdHTTP = NewLoadHTTPClient(f.Clients)
			defer etcdHTTP.CloseIdleConnections()
			systems = append(systems, restSystem{"etcd", peers.etcd.Load(etcdHTTP, res.valueSize)})
		}
		rounds, err := runRESTRounds(ctx, f.Progress, systems, load, max(f.Rounds, 1))
		if err != nil {
			return res, err
		}
		res.restRounds = rounds[0]
		res.peakRSSREST = peakRSSMiB(pids)
		if peers.etcd != nil {
			res.etcdRounds, res.etcdPeakRSS = rounds[1], peakRSSMiB(peers.etcd.Pids())
		}
	}
	if f.Messaging > 0 {
		m, peerMsg, err := benchCassnetMessaging(ctx, f.Progress, addrs, pids, c.AdminToken(), benchTenant, f.Messaging, peers.nats, f.Rounds)
		if err != nil {
			return res, fmt.Errorf("messaging: %w", err)
		}
		res.msg, res.peerMsg = &m, peerMsg
	}
	if f.Verify {
		fmt.Fprintf(f.Progress, "bench: session verification on %s, %d clients\n", addrs[0], f.Clients)
		v, err := benchVerify(ctx, cl, addrs[0], benchTenant, load)
		if err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
		res.verify = &VerifyPhase{Node: addrs[0], BenchPhase: newBenchPhase(v)}
	}
	res.peakRSSAll = peakRSSMiB(pids) // before the kills restart nodes
	res.suspicions = -1
	if after, err := suspicions(ctx, c.Nodes()); err == nil && serr == nil {
		res.suspicions = after - before
	}
	res.elections = -1
	if after, err := maxTerm(ctx, c.Nodes()); err == nil && terr == nil {
		res.elections = after - termBefore
	}
	if f.Kills > 0 {
		fp, err := benchFailureDetection(ctx, f.Progress, cl, c.Nodes(), f.Kills)
		if err != nil {
			return res, fmt.Errorf("failure detection: %w", err)
		}
		res.fail = &fp
	}
	return res, nil
}

// benchPost POSTs body and wants 201.
func benchPost(ctx context.Context, cl *Client, addr, path string, body any) error {
	resp, err := cl.Do(ctx, http.MethodPost, addr, path, body)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusCreated {
		return &StatusError{Status: resp.Status, Body: string(resp.Body)}
	}
	return nil
}

// startBenchEtcd starts a 3-member etcd cluster in dir.
func startBenchEtcd(ctx context.Context, progress io.Writer, bin, dir string) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "bench: starting 3 etcd members (%s) in %s\n", bin, dir)
	e, err := StartEtcd(ctx, EtcdConfig{Bin: bin, Dir: dir, IPs: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "bench: etcd ready (gateway %s)\n", e.GatewayPrefix())
	return e, nil
}

// findPeer resolves a peer flag (auto, off or a path) to a binary, or ""
// and why not.
func findPeer(flag, exe, name, pkg string) (bin, note string) {
	switch flag {
	case "off":
		return "", name + " comparison off"
	case "auto", "":
		p, err := exec.LookPath(exe)
		if err != nil {
			return "", "no " + exe + " in PATH; skipping the " + name + " comparison (apt-get install " + pkg + ")"
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

// BenchReport is everything one benchmark run measured.
type BenchReport struct {
	Date     string       `json:"date"`
	Machine  BenchMachine `json:"machine"`
	Nodes    int          `json:"nodes"`
	Clients  int          `json:"clients"`
	Duration string       `json:"duration"`
	Warmup   string       `json:"warmup"`
	// Rounds is how many rounds of the REST and streaming phases ran.
	Rounds   int         `json:"rounds"`
	Cassnet  *BenchSide  `json:"cassnet"`
	Etcd     *BenchSide  `json:"etcd,omitempty"`
	EtcdNote string      `json:"etcd_note,omitempty"`
	Ratio    *BenchRatio `json:"cassnet_over_etcd,omitempty"`
	// Messaging is cassnet's messaging, NATS the peer's (nil when skipped).
	Messaging *CassnetMsg `json:"messaging,omitempty"`
	NATS      *NATSMsg    `json:"nats,omitempty"`
	NATSNote  string      `json:"nats_note,omitempty"`
	// MsgRatio compares the streaming rounds with NATS's, round by round.
	MsgRatio *MsgRatios   `json:"messaging_ratio,omitempty"`
	Verify   *VerifyPhase `json:"session_verify,omitempty"`
	// Failure is the failure-detection phase; SuspicionsUnderLoad counts
	// memberlist suspicions raised during the load phases (all false: no
	// node was down then).
	Failure             *FailurePhase `json:"failure_detection,omitempty"`
	SuspicionsUnderLoad int           `json:"suspicions_under_load"`
	// ElectionsUnderLoad is how far the Raft term moved during the same
	// phases (every leader was up: any election is false).
	ElectionsUnderLoad int `json:"elections_under_load"`
	// CassnetPeakRSSAllPhasesMiB is the largest node's peak resident set
	// after every load phase (writes, reads, messaging, verification),
	// before the failure-detection kills; 0 if unknown.
	CassnetPeakRSSAllPhasesMiB float64 `json:"cassnet_peak_rss_all_phases_mib"`
}

// NATSMsg is the messaging peer's results: the median rounds (by msgs/s,
// and by p99) and every round in order.
type NATSMsg struct {
	System           string     `json:"system"`
	Throughput       MsgPhase   `json:"throughput"`
	Latency          MsgPhase   `json:"latency"`
	ThroughputRounds []MsgPhase `json:"throughput_rounds"`
	LatencyRounds    []MsgPhase `json:"latency_rounds"`
}

// VerifyPhase is session verification over REST on one node.
type VerifyPhase struct {
	Node string `json:"node"`
	BenchPhase
}

// BenchMachine describes the host the run measured.
type BenchMachine struct {
	CPU       string `json:"cpu"`
	NumCPU    int    `json:"num_cpu"`
	OSArch    string `json:"os_arch"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run began: other
	// work on the machine skews every number.
	LoadAvg string `json:"load_avg_1m"`
}

// BenchSide is one system's results.
type BenchSide struct {
	System     string     `json:"system"`
	ValueBytes int        `json:"value_bytes"`
	Writes     BenchPhase `json:"writes"`
	Reads      BenchPhase `json:"reads"`
	// PeakRSSMiB is the largest server process's peak resident set
	// (VmHWM) after the write and read phases, in MiB; 0 if unknown.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// Rounds are the write and read phases of every round, in order;
	// Writes and Reads are their medians (medianBenchPhase).
	Rounds []BenchRound `json:"rounds"`
}

// BenchPhase is one phase (writes or reads) of one system.
type BenchPhase struct {
	PerSec float64        `json:"per_sec"`
	OK     int            `json:"ok"`
	Errors map[string]int `json:"errors"`
	MeanMs float64        `json:"mean_ms"`
	P50Ms  float64        `json:"p50_ms"`
	P90Ms  float64        `json:"p90_ms"`
	P99Ms  float64        `json:"p99_ms"`
	MaxMs  float64        `json:"max_ms"`
}

// BenchRatio is cassnet divided by etcd: each the median of the rounds'
// own ratios, beside those ratios in round order.
type BenchRatio struct {
	WritesPerSec       float64   `json:"writes_per_sec"`
	WriteP99           float64   `json:"write_p99"`
	ReadsPerSec        float64   `json:"reads_per_sec"`
	WritesPerSecRounds []float64 `json:"writes_per_sec_rounds"`
	WriteP99Rounds     []float64 `json:"write_p99_rounds"`
	ReadsPerSecRounds  []float64 `json:"reads_per_sec_rounds"`
}

func newBenchPhase(r LoadResult) BenchPhase {
	l := r.Latency
	return BenchPhase{
		PerSec: r.PerSecond(), OK: r.OK, Errors: r.Errors,
		MeanMs: benchMs(l.Mean), P50Ms: benchMs(l.P50), P90Ms: benchMs(l.P90), P99Ms: benchMs(l.P99), MaxMs: benchMs(l.Max),
	}
}

func benchMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchDiv is a/b, or 0 when b is 0.
func BenchDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// benchMachine describes the host: CPU model, cores, platform, Go version.
func benchMachine() BenchMachine {
	m := BenchMachine{CPU: "unknown", NumCPU: runtime.NumCPU(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
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
