package testnet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upgradeFrom is the commit whose binary the rolling upgrade starts from:
// the last one before replicated state was split by domain (issue 10).
const upgradeFrom = "e8364f0"

// buildOldBinary builds cassnet from commit rev of the repository this
// test runs in, into dir. CASSNET_OLD_BIN names a prebuilt one instead. It
// skips the test if the commit is not in the repository.
func buildOldBinary(t *testing.T, rev, dir string) string {
	t.Helper()
	if p := os.Getenv("CASSNET_OLD_BIN"); p != "" {
		return p
	}
	repo, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git repository, cannot build the %s binary: %v", rev, err)
	}
	root := strings.TrimSpace(string(repo))
	if err := exec.Command("git", "-C", root, "cat-file", "-e", rev+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in the repository %s; cannot build the binary to upgrade from", rev, root)
	}
	src := filepath.Join(dir, "src-"+rev)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive %s | tar -x -C %q", root, rev, src))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	bin := filepath.Join(dir, "cassnet-"+rev)
	// -trimpath keeps the build cache valid across the temp dirs of
	// successive runs, so only the first run compiles everything.
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/cassnet")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the %s binary: %v\n%s", rev, err, out)
	}
	return bin
}

// ackedBan is a ban whose creation was answered 201.
type ackedBan struct{ id, player string }

// TestRollingUpgrade upgrades a running 3-node cluster of the binary of
// commit upgradeFrom to the binary under test, one node at a time, as
// docs/operations.md tells an operator to ("Upgrading to the domain-state
// release, one node at a time"), with ban writes running the whole time.
// Each node is stopped with SIGTERM (which, in that binary, also leaves the
// Raft configuration), restarted on the same data dir with the new binary
// and only --data-dir, and the next one is replaced only once the cluster
// has 3 voters again and, with writes paused for a moment, the old and new
// replicas have the same applied index and state hash. At the end no
// acknowledged write is lost, every node has the same applied index and
// state hash, and every node runs the new binary.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	buildStart := time.Now()
	oldBin := buildOldBinary(t, upgradeFrom, dir)
	t.Logf("binary of %s ready in %s: %s", upgradeFrom, time.Since(buildStart).Round(time.Millisecond), oldBin)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := NewCluster(Config{Bin: oldBin, Dir: dir, AgentArgs: fastArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log (last 5000 bytes) ====\n%s", nd.Name, tail(b, 5000))
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
	for i := 1; i <= 3; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	nodes := c.Nodes()
	cl := NewClient(c.AdminToken())
	waitVoters(t, ctx, cl, nodes, 3)
	mustWrite(t, ctx, cl, nodes[0], "/v1/tenants", map[string]string{"name": "upgrade"}, http.StatusCreated)

	// Writers: each creates bans with unique players on the nodes in turn,
	// and records the ones answered 201. Errors (a node down, a leader
	// change, an outcome unknown) are counted, not failures: only an
	// acknowledged write must survive.
	wctx, stopWriters := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    []ackedBan
		failures atomic.Int64
		// gate pauses the writers (Lock) so that the replicas can be
		// compared at one index while old and new binaries run together.
		gate sync.RWMutex
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; wctx.Err() == nil; i++ {
				n := nodes[(w+i)%len(nodes)]
				player := fmt.Sprintf("w%d-%05d", w, i)
				gate.RLock()
				r, err := cl.Do(wctx, http.MethodPost, n.HTTPAddr(), "/v1/tenants/upgrade/bans",
					map[string]any{"player_id": player, "reason": "written during the upgrade"})
				gate.RUnlock()
				var b banBody
				if err == nil && r.Status == http.StatusCreated && r.JSON(&b) == nil {
					mu.Lock()
					acked = append(acked, ackedBan{b.ID, player})
					mu.Unlock()
				} else if wctx.Err() == nil {
					failures.Add(1)
				}
				select {
				case <-wctx.Done():
				case <-time.After(15 * time.Millisecond):
				}
			}
		}()
	}
	ackedNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}

	// Followers first, the leader last: one leadership change in all.
	leader := leaderOf(t, ctx, cl, nodes)
	order := append(others(nodes, leader), leader)
	time.Sleep(time.Second) // writes are flowing before the first stop
	for _, n := range order {
		before := ackedNow()
		start := time.Now()
		if err := n.Stop(30 * time.Second); err != nil {
			t.Fatalf("stop %s: %v", n.Name, err)
		}
		stopped := time.Since(start)
		// The old binary leaves the Raft configuration on SIGTERM: the
		// others must now see two voters and no trace of n.
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		err := WaitFor(lctx, func() error {
			for _, o := range others(nodes, n) {
				info, err := cl.Raft(lctx, o)
				if err != nil {
					return err
				}
				voters := 0
				for _, s := range info.Servers {
					if s.Suffrage == "voter" {
						voters++
					}
				}
				if voters != 2 {
					return fmt.Errorf("%s sees %d voters, want 2 with %s gone", o.Name, voters, n.Name)
				}
			}
			return nil
		})
		lcancel()
		if err != nil {
			t.Fatalf("%s did not leave the Raft configuration on SIGTERM: %v", n.Name, err)
		}
		left := time.Since(start)
		n.bin = binPath // same data dir, the new binary
		if err := n.Restart(); err != nil {
			t.Fatalf("restart %s with the new binary: %v", n.Name, err)
		}
		vctx, vcancel := context.WithTimeout(ctx, 60*time.Second)
		err = WaitVoters(vctx, cl, nodes, 3)
		vcancel()
		if err != nil {
			t.Fatalf("after replacing %s the cluster did not get 3 voters back: %v", n.Name, err)
		}
		// Old and new binaries side by side must agree on the state.
		gate.Lock()
		waitConverged(t, ctx, cl, nodes)
		gate.Unlock()
		t.Logf("%s replaced: stopped in %s, out of the configuration at %s, a voter again at %s after the stop began (%d writes acknowledged meanwhile)",
			n.Name, stopped.Round(time.Millisecond), left.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), ackedNow()-before)
	}
	time.Sleep(time.Second) // and writes still flow after the last one
	stopWriters()
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d writes were acknowledged during the upgrade (%d failed): the load did not run", len(acked), failures.Load())
	}
	t.Logf("%d writes acknowledged, %d failed or indeterminate during the upgrade", len(acked), failures.Load())

	waitConverged(t, ctx, cl, nodes)
	for _, n := range nodes {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", n.Pid()))
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if exe != binPath {
			t.Errorf("%s runs %s, want the new binary %s", n.Name, exe, binPath)
		}
		// Each replica on its own (stale read): every acknowledged ban is
		// there, with its player.
		r, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/upgrade/bans?stale", nil)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Bans []banBody `json:"bans"`
		}
		if err := r.JSON(&list); err != nil {
			t.Fatal(err)
		}
		have := make(map[string]string, len(list.Bans))
		for _, b := range list.Bans {
			have[b.ID] = b.PlayerID
		}
		lost := 0
		for _, a := range acked {
			if have[a.id] != a.player {
				if lost < 10 {
					t.Errorf("%s: acknowledged ban %s of %s is missing", n.Name, a.id, a.player)
				}
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("%s lost %d of %d acknowledged writes", n.Name, lost, len(acked))
		}
	}
	info, err := cl.Raft(ctx, nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converged at applied index %d, state hash %s", info.AppliedIndex, info.StateHash)
}
