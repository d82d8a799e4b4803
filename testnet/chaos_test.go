package testnet

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chaosConfig fills what every chaos test shares: the race-built binary,
// an output dir (CASSNET_CHAOS_OUT keeps it after the test), a seed
// (CASSNET_CHAOS_SEED reproduces a run) and logging into the test log.
func chaosConfig(t *testing.T, cfg RunConfig) RunConfig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	cfg.Bin = binPath
	cfg.OutDir = t.TempDir()
	if dir := os.Getenv("CASSNET_CHAOS_OUT"); dir != "" {
		cfg.OutDir = filepath.Join(dir, t.Name())
		if err := os.RemoveAll(cfg.OutDir); err != nil {
			t.Fatal(err)
		}
	}
	if s := os.Getenv("CASSNET_CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CASSNET_CHAOS_SEED: %v", err)
		}
		cfg.Seed = seed
	}
	cfg.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}

// runChaos runs cfg and returns the report, failing the test if the
// harness itself failed. It logs the report.
func runChaos(t *testing.T, ctx context.Context, cfg RunConfig) *Report {
	t.Helper()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("chaos run: %v", err)
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Logf("seed %d; report:\n%s", rep.Seed, b.String())
	return rep
}

// testWriter sends slog output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestChaosShort is the CI scenario of issue 7: five nodes in network
// namespaces, kills, pauses and four partition shapes while ten clients
// run the ban, session and pubsub workloads (bans created, revoked and
// read; sessions issued, verified elsewhere, revoked, their players
// banned; messages published to SSE subscribers that resume across
// nodes); every checker must pass. Without
// root it runs a loopback variant with kills and pauses only, and says so.
func TestChaosShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	err := NetnsAvailable()
	if err == nil && os.Getenv("CASSNET_CHAOS_LOOPBACK") != "" {
		err = errors.New("CASSNET_CHAOS_LOOPBACK is set")
	}
	if err != nil {
		t.Run("loopback", func(t *testing.T) {
			cfg := chaosConfig(t, RunConfig{Nodes: 5, Duration: 40 * time.Second, Faults: []string{"kill", "pause"}, Mode: ModeLoopback})
			rep := runChaos(t, ctx, cfg)
			checkReport(t, rep, []string{"kill", "pause"}, 0)
		})
		t.Skipf("network namespaces unavailable (%v): partitions and link faults were not tested; ran the loopback variant (kill, pause) instead", err)
	}
	cfg := chaosConfig(t, RunConfig{
		Nodes: 5, Duration: 75 * time.Second, Mode: ModeNetns,
		Faults: []string{"kill", "pause", "partition-halves", "partition-leader", "partition-bridge", "partition-ring"},
	})
	rep := runChaos(t, ctx, cfg)
	checkReport(t, rep, []string{"kill", "pause"}, 2)
}

// checkReport fails t unless every checker passed (none may be N/A: all
// three workloads ran), every fault in want was injected, and at least
// partitions partition shapes were.
func checkReport(t *testing.T, rep *Report, want []string, partitions int) {
	t.Helper()
	for _, res := range rep.Results {
		if res.Verdict == Fail {
			t.Errorf("checker %s failed: %s", res.Checker, res.Summary)
		}
		if res.Verdict == NotApplicable {
			t.Errorf("checker %s checked nothing: %s", res.Checker, res.Summary)
		}
	}
	injected := rep.Injected()
	for _, f := range want {
		if injected[f] == 0 {
			t.Errorf("fault %s was never injected (windows: %+v)", f, rep.Windows)
		}
	}
	shapes := 0
	for f := range injected {
		if strings.HasPrefix(f, "partition-") {
			shapes++
		}
	}
	if shapes < partitions {
		t.Errorf("%d partition shapes injected, want at least %d", shapes, partitions)
	}
	if t.Failed() {
		t.Logf("output (set CASSNET_CHAOS_OUT to keep it): %s", rep.OutDir)
	}
}

// TestChaosUnsafeAck proves the checkers catch real data loss: every node
// runs with --unsafe-ack-before-commit, so a leader acknowledges writes
// before a quorum has them, and the nemesis isolates the leader. The run
// must fail the lost-write, the linearizability or the sessions checker.
// What it loses is what the isolated leader had in flight in its lease
// window, so it runs 4 clients per node and four isolations: with 2 per
// node and three, a run under the whole suite's load (make test on 2
// CPUs) sometimes lost nothing the checkers could see (2 of 3 runs one
// day, while 6 of 6 alone detected).
func TestChaosUnsafeAck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := NetnsAvailable(); err != nil {
		t.Skipf("network namespaces unavailable (%v): cannot isolate the leader", err)
	}
	cfg := chaosConfig(t, RunConfig{
		Nodes: 3, Clients: 12, Duration: 35 * time.Second, Mode: ModeNetns,
		Faults:    []string{"partition-leader"},
		AgentArgs: []string{"--unsafe-ack-before-commit"},
	})
	rep := runChaos(t, ctx, cfg)
	if rep.Injected()["partition-leader"] == 0 {
		t.Fatalf("the leader was never isolated: %+v", rep.Windows)
	}
	failed := rep.Failed()
	// An acknowledged write the cluster lost shows as a lost ban (lost-writes),
	// a non-linearizable history, or a lost acknowledged revocation (the
	// sessions checker: revoked, yet "ok" on every node after the heal);
	// which one depends on what the partitioned leader was acknowledging.
	if !slices.Contains(failed, "lost-writes") && !slices.Contains(failed, "linearizability") && !slices.Contains(failed, "sessions") {
		t.Fatalf("a cluster that acknowledges uncommitted writes passed the checkers (failed: %v)", failed)
	}
	t.Logf("as expected, the unsafe cluster failed: %v", failed)
}
