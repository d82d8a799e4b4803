package plugintest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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

	"github.com/cassandranet/cassnet/plugin/plugintest"
	"github.com/cassandranet/cassnet/testnet"
)

var binPath, buildDir string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "cassnet-plugintest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	if binPath = os.Getenv("CASSNET_BIN"); binPath == "" && !testing.Short() {
		binPath = filepath.Join(dir, "cassnet")
		// Without -race: interpreted plugins under the race detector are
		// slow enough to starve a shared machine; the runtime's own tests
		// run under -race, and package testnet runs -race agents.
		build := exec.Command("go", "build", "-o", binPath, "../../cmd/cassnet")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build cassnet:", err)
			return 1
		}
	}
	return m.Run()
}

// agentArgs: plugins run interpreted (a module loads in about a second on
// a busy machine, instead of several under -race), with a 2 s call limit.
var agentArgs = []string{
	"--dead-server-grace", "8s", "--stabilization-time", "2s", "--reconnect-interval", "1s",
	"--plugin-interpreter", "--plugin-call-timeout", "2s", "--plugin-memory-mib", "32",
}

func startCluster(t *testing.T, ctx context.Context, n int) (*testnet.Cluster, *testnet.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir, AgentArgs: agentArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					var keep []string
					for _, line := range strings.Split(string(b), "\n") {
						if strings.Contains(line, "plugin") || strings.Contains(line, "level=ERROR") {
							keep = append(keep, line)
						}
					}
					if len(keep) > 60 {
						keep = keep[len(keep)-60:]
					}
					t.Logf("==== %s log (plugin lines) ====\n%s", nd.Name, strings.Join(keep, "\n"))
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
	cl.HTTP.Timeout = 60 * time.Second // a call may wait for a module to load
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := testnet.WaitVoters(wctx, cl, c.Nodes(), n); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
	return c, cl
}

// do sends one JSON request and returns the status and body.
func do(t *testing.T, ctx context.Context, cl *testnet.Client, n *testnet.Node, method, path string, body any) (int, []byte) {
	t.Helper()
	r, err := cl.Do(ctx, method, n.HTTPAddr(), path, body)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.Name, err)
	}
	return r.Status, r.Body
}

func must(t *testing.T, ctx context.Context, cl *testnet.Client, n *testnet.Node, method, path string, body any, want int) []byte {
	t.Helper()
	status, b := do(t, ctx, cl, n, method, path, body)
	if status != want {
		t.Fatalf("%s %s on %s: %d, want %d: %s", method, path, n.Name, status, want, b)
	}
	return b
}

// upload PUTs a module as application/wasm through node n.
func upload(t *testing.T, ctx context.Context, cl *testnet.Client, n *testnet.Node, tenant, name string, mod []byte, query string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+n.HTTPAddr()+"/v1/tenants/"+tenant+"/plugins/"+name+query, bytes.NewReader(mod))
	req.Header.Set("Content-Type", "application/wasm")
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b.String())
	}
}

// waitPlugin waits until every node's registry holds the plugin at sum.
func waitPlugin(t *testing.T, ctx context.Context, cl *testnet.Client, nodes []*testnet.Node, tenant, name, version string) {
	t.Helper()
	err := testnet.WaitFor(ctx, func() error {
		for _, n := range nodes {
			r, err := cl.Do(ctx, "GET", n.HTTPAddr(), "/v1/tenants/"+tenant+"/plugins/"+name, nil)
			if err != nil {
				return err
			}
			if r.Status != 200 || !strings.Contains(string(r.Body), `"version":"`+version+`"`) {
				return fmt.Errorf("%s: %d %s", n.Name, r.Status, r.Body)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("plugin %s %s not on every node: %v", name, version, err)
	}
}

// waitGone waits until no node's registry holds the plugin.
func waitGone(t *testing.T, ctx context.Context, cl *testnet.Client, nodes []*testnet.Node, tenant, name string) {
	t.Helper()
	err := testnet.WaitFor(ctx, func() error {
		for _, n := range nodes {
			r, err := cl.Do(ctx, "GET", n.HTTPAddr(), "/v1/tenants/"+tenant+"/plugins/"+name, nil)
			if err != nil {
				return err
			}
			if r.Status != 404 {
				return fmt.Errorf("%s: %d", n.Name, r.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("plugin %s still installed: %v", name, err)
	}
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// TestPluginsAcrossNodes is the plugins' end-to-end proof, on one
// three-node cluster (each step in a subtest, in order).
func TestPluginsAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	banPolicy := plugintest.Build(t, "examples/plugins/ban-policy", buildDir, "")
	hello := plugintest.Build(t, "examples/plugins/hello-rpc", buildDir, "")
	profanity := plugintest.Build(t, "examples/plugins/ugc-profanity", buildDir, "")
	swap1 := plugintest.Build(t, "plugin/testdata/swap", buildDir, "")
	swap2 := plugintest.Build(t, "plugin/testdata/swap", buildDir, "-X main.version=v2")
	loop := plugintest.Build(t, "plugin/testdata/loop", buildDir, "")
	hog := plugintest.Build(t, "plugin/testdata/hog", buildDir, "")
	allocPrefer := plugintest.Build(t, "examples/plugins/alloc-prefer", buildDir, "")
	t.Logf("built 8 modules in %v", time.Since(start).Round(time.Millisecond))
	c, cl := startCluster(t, ctx, 3)
	nodes := c.Nodes()
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	must(t, ctx, cl, n1, "POST", "/v1/tenants", map[string]any{"name": "studio"}, 201)
	bans := "/v1/tenants/studio/bans"

	t.Run("rejection through another node", func(t *testing.T) {
		upload(t, ctx, cl, n1, "studio", "ban-policy", banPolicy, "")
		waitPlugin(t, ctx, cl, nodes, "studio", "ban-policy", "1.0.0")
		status, b := do(t, ctx, cl, n2, "POST", bans, map[string]any{"player_id": "p1", "reason": "afk"})
		var e apiError
		if status != 422 || json.Unmarshal(b, &e) != nil || e.Error.Code != "rejected_by_plugin" || !strings.Contains(e.Error.Message, "at least 8 characters") {
			t.Fatalf("short reason through n2: %d %s", status, b)
		}
		must(t, ctx, cl, n3, "POST", bans, map[string]any{"player_id": "p1", "reason": "aimbot, caught on replay"}, 201)
	})

	t.Run("rpc", func(t *testing.T) {
		upload(t, ctx, cl, n2, "studio", "hello-rpc", hello, "")
		waitPlugin(t, ctx, cl, nodes, "studio", "hello-rpc", "1.0.0")
		b := must(t, ctx, cl, n1, "POST", "/v1/tenants/studio/sessions", map[string]any{"player_id": "ada"}, 201)
		var sess struct{ Token string }
		if err := json.Unmarshal(b, &sess); err != nil {
			t.Fatal(err)
		}
		player := &testnet.Client{Token: sess.Token, HTTP: cl.HTTP}
		if b := must(t, ctx, player, n3, "POST", "/v1/tenants/studio/rpc/hello", map[string]any{"name": "ada"}, 200); strings.TrimSpace(string(b)) != `{"hello":"ada"}` {
			t.Fatalf("hello: %s", b)
		}
	})

	t.Run("ugc item titles", func(t *testing.T) {
		must(t, ctx, cl, n1, "POST", "/v1/tenants/studio/projects", map[string]any{"name": "game"}, 201)
		upload(t, ctx, cl, n3, "studio", "ugc-profanity", profanity, "")
		must(t, ctx, cl, n3, "PUT", "/v1/tenants/studio/plugins/ugc-profanity/config", map[string]any{"words": []string{"darn"}}, 200)
		waitPlugin(t, ctx, cl, nodes, "studio", "ugc-profanity", "1.0.0")
		items := "/v1/tenants/studio/projects/game/ugc/items"
		err := testnet.WaitFor(ctx, func() error { // the config reaches n1
			status, b := do(t, ctx, cl, n1, "POST", items, map[string]any{"title": "A DARN good map"})
			if status != 422 || !strings.Contains(string(b), "rejected_by_plugin") {
				return fmt.Errorf("%d %s", status, b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("a listed word in a title: %v", err)
		}
		must(t, ctx, cl, n2, "POST", items, map[string]any{"title": "A good map"}, 201)
	})

	t.Run("allocation preference", func(t *testing.T) { allocPreferStep(t, ctx, cl, nodes, allocPrefer) })

	t.Run("hot swap under load", func(t *testing.T) {
		upload(t, ctx, cl, n1, "studio", "swap", swap1, "")
		waitPlugin(t, ctx, cl, nodes, "studio", "swap", "v1")
		lctx, stop := context.WithCancel(ctx)
		var ok, v2, failed atomic.Int64
		var wg sync.WaitGroup
		defer wg.Wait()
		defer stop()
		var mu sync.Mutex
		var failures []string
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; lctx.Err() == nil; i++ {
					n := nodes[(w+i)%len(nodes)]
					r, err := cl.Do(ctx, "POST", n.HTTPAddr(), bans, map[string]any{"player_id": fmt.Sprintf("w%d-%d", w, i), "reason": "griefing the spawn"})
					switch {
					case err != nil || r.Status != 201:
						failed.Add(1)
						mu.Lock()
						failures = append(failures, fmt.Sprintf("%s: %v %v", n.Name, err, r))
						mu.Unlock()
					case strings.Contains(string(r.Body), `"reason":"v2: `):
						v2.Add(1)
						ok.Add(1)
					default:
						ok.Add(1)
					}
				}
			}()
		}
		if err := testnet.WaitFor(ctx, func() error {
			if ok.Load() < 10 {
				return fmt.Errorf("%d bans by v1, %d failed", ok.Load(), failed.Load())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		before := ok.Load()
		upload(t, ctx, cl, n2, "studio", "swap", swap2, "")
		err := testnet.WaitFor(ctx, func() error {
			if v2.Load() < 30 {
				return fmt.Errorf("%d bans by v2", v2.Load())
			}
			return nil
		})
		stop()
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d requests failed during the swap, e.g. %s", failed.Load(), failures[0])
		}
		if err != nil || before == 0 {
			t.Fatalf("load before the swap %d, after: %v", before, err)
		}
		t.Logf("%d bans, %d by v2, none failed", ok.Load(), v2.Load())
		must(t, ctx, cl, n1, "DELETE", "/v1/tenants/studio/plugins/swap", nil, 204)
		waitGone(t, ctx, cl, nodes, "studio", "swap")
	})

	t.Run("hostile plugins are stopped", func(t *testing.T) {
		for _, h := range []struct {
			name string
			mod  []byte
		}{{"zz-loop", loop}, {"zz-hog", hog}} {
			upload(t, ctx, cl, n1, "studio", h.name, h.mod, "")
			waitPlugin(t, ctx, cl, nodes, "studio", h.name, "1")
			for _, n := range nodes {
				began := time.Now()
				status, b := do(t, ctx, cl, n, "POST", bans, map[string]any{"player_id": "p9", "reason": "a long enough reason"})
				var e apiError
				if status != 503 || json.Unmarshal(b, &e) != nil || e.Error.Code != "plugin_failed" {
					t.Fatalf("%s on %s: %d %s", h.name, n.Name, status, b)
				}
				if d := time.Since(began); d > 20*time.Second {
					t.Fatalf("%s on %s took %v", h.name, n.Name, d)
				}
				must(t, ctx, cl, n, "GET", "/v1/health", nil, 200)
				must(t, ctx, cl, n, "GET", "/v1/tenants/studio/players/p1/ban", nil, 200)
			}
			must(t, ctx, cl, n3, "DELETE", "/v1/tenants/studio/plugins/"+h.name, nil, 204)
			waitGone(t, ctx, cl, nodes, "studio", h.name)
		}
		must(t, ctx, cl, n2, "POST", bans, map[string]any{"player_id": "p9", "reason": "a long enough reason"}, 201)
		// Failures were recorded (at most one per plugin per node per
		// minute): the audit log has plugin.failed entries.
		err := testnet.WaitFor(ctx, func() error {
			_, b := do(t, ctx, cl, n1, "GET", "/v1/tenants/studio/audit?limit=1000", nil)
			if !bytes.Contains(b, []byte(`"plugin.failed"`)) || !bytes.Contains(b, []byte(`"zz-loop"`)) || !bytes.Contains(b, []byte(`"zz-hog"`)) {
				return fmt.Errorf("no plugin.failed entries for both: %.400s", b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("whole test: %v", time.Since(start).Round(time.Second))
}
