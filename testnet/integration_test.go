package testnet

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// binPath is the cassnet binary the integration tests run. TestMain builds
// it with -race unless CASSNET_BIN names one.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// fuzzing reports whether this run fuzzes (go test -fuzz) or is one of
// the fuzzing engine's workers, which run TestMain too: the fuzz targets
// need no agent binary, and building one per worker would take the whole
// -fuzztime.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() || fuzzing() {
		return m.Run()
	}
	if p := os.Getenv("CASSNET_BIN"); p != "" {
		binPath = p
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "cassnet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "cassnet")
	build := exec.Command("go", "build", "-race", "-o", binPath, "../cmd/cassnet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cassnet:", err)
		return 1
	}
	return m.Run()
}

// fastArgs shortens every timer so failures are detected and repaired in
// seconds, and forces frequent snapshots so restarts exercise compaction.
var fastArgs = []string{
	"--dead-server-grace", "8s", "--stabilization-time", "2s", "--reconnect-interval", "1s",
	"--raft-snapshot-threshold", "32", "--raft-trailing-logs", "16", "--raft-snapshot-interval", "1s",
}

// startCluster starts n nodes on 127.0.0.1..n and waits until every one is
// ready and the Raft configuration has want voters. extra flags go to every
// agent after fastArgs (so they override them), also on restarts.
func startCluster(t *testing.T, ctx context.Context, n, voters int, extra ...string) (*Cluster, *Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	c, err := NewCluster(Config{Bin: binPath, Dir: dir, AgentArgs: append(append([]string(nil), fastArgs...), extra...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log (last 6000 bytes) ====\n%s", nd.Name, tail(b, 6000))
				}
			}
		}
		if races, _ := filepath.Glob(filepath.Join(dir, "*.race*")); len(races) > 0 {
			for _, r := range races {
				b, _ := os.ReadFile(r)
				t.Errorf("data race reported by an agent (%s):\n%s", r, b)
			}
		}
	})
	for i := 1; i <= n; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cl := NewClient(c.AdminToken())
	waitVoters(t, ctx, cl, c.Nodes(), voters)
	return c, cl
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitVoters waits until every given node is ready and reports a
// configuration with exactly want voters and a common leader.
func waitVoters(t *testing.T, ctx context.Context, cl *Client, nodes []*Node, want int) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := WaitVoters(wctx, cl, nodes, want); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
}

// leaderOf returns the node that is currently leader.
func leaderOf(t *testing.T, ctx context.Context, cl *Client, nodes []*Node) *Node {
	t.Helper()
	var leader *Node
	err := WaitFor(ctx, func() error {
		for _, nd := range nodes {
			info, err := cl.Raft(ctx, nd)
			if err == nil && info.State == "Leader" {
				leader = nd
				return nil
			}
		}
		return fmt.Errorf("no leader among %d nodes", len(nodes))
	})
	if err != nil {
		t.Fatal(err)
	}
	return leader
}
