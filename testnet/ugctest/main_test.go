// Package ugctest runs the UGC pipeline end to end against real `cassnet
// agent` processes: players create items, upload them with tus to one
// node, and query and download them from the others.
package ugctest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
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
	build := exec.Command("go", "build", "-race", "-o", binPath, "../../cmd/cassnet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cassnet:", err)
		return 1
	}
	return m.Run()
}

// fastArgs tune every agent for tests: a 1 s UGC collection interval
// lets a test see deleted blobs go.
var fastArgs = []string{"--dead-server-grace", "8s", "--stabilization-time", "2s", "--reconnect-interval", "1s",
	"--ugc-gc-interval", "1s"}

// startCluster starts n voters on 127.0.0.1..n.
func startCluster(t *testing.T, ctx context.Context, n int) (*testnet.Cluster, *testnet.Client) {
	t.Helper()
	return startClusterWith(t, ctx, n, nil, nil)
}

// startClusterWith starts n voters with extra agent flags and environment.
func startClusterWith(t *testing.T, ctx context.Context, n int, args, env []string) (*testnet.Cluster, *testnet.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir,
		AgentArgs: append(append([]string(nil), fastArgs...), args...), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					if len(b) > 8000 {
						b = b[len(b)-8000:]
					}
					t.Logf("==== %s log ====\n%s", nd.Name, b)
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
	cl := testnet.NewClient(c.AdminToken())
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := testnet.WaitVoters(wctx, cl, c.Nodes(), n); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
	return c, cl
}
