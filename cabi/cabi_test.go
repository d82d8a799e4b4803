package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// TestCABI builds libcassnet.so as `make cabi` does, compiles the C test
// and the example with gcc, starts a two-node cluster, and runs them
// against node 1 while the test bans players through node 2's REST API.
func TestCABI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the C library and starts real agents")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins := buildAll(t, ctx, dir)

	c, err := testnet.NewCluster(testnet.Config{Bin: bins["cassnet"], Dir: filepath.Join(dir, "cluster"),
		AgentArgs: []string{"--voters", "1", "--stabilization-time", "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log ====\n%s", nd.Name, b[max(0, len(b)-4000):])
				}
			}
		}
	})
	n1, err := c.AddNode(ctx, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.AddNode(ctx, "n2", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	rest := &restClient{t: t, ctx: ctx, cl: testnet.NewClient(c.AdminToken())}
	rest.waitReady(n1.HTTPAddr(), n2.HTTPAddr())
	env := append(rest.fixture(n1.HTTPAddr()), "CN_NODE="+net.JoinHostPort(n1.IP, strconv.Itoa(n1.Ports.GRPC)))

	handlers := map[string]func(arg string){
		"BAN": func(player string) {
			rest.do(n2.HTTPAddr(), "POST", "/v1/tenants/acme/bans", map[string]any{"player_id": player, "reason": "cheating"}, http.StatusCreated)
		},
		"CHECK_METRICS": func(string) {
			body := rest.do(n1.HTTPAddr(), "GET", "/metrics", nil, http.StatusOK)
			if want := `cassnet_gameserver_metric{name="tick_ms",server="c-test`; !strings.Contains(string(body), want) {
				t.Errorf("%s... not on /metrics", want)
			}
			// The record is visible from the other node's replica; the metrics
			// only from the node the server talks to.
			var list struct {
				Servers []struct {
					ID, Node, State string
					Metrics         map[string]float64
				}
				Unreachable []string
			}
			// A lifecycle change made while the cluster was re-forming (the
			// node was restarted by the previous run) is replicated by the
			// node's reconcile loop within a few seconds.
			var err error
			for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				var res *testnet.Response
				res, err = rest.cl.Do(ctx, "GET", n2.HTTPAddr(), "/v1/tenants/acme/servers", nil)
				if err == nil && res.JSON(&list) == nil && len(list.Servers) > 0 && list.Servers[0].Node == "n1" &&
					list.Servers[0].State == "ready" && len(list.Unreachable) == 0 || time.Now().After(end) {
					break
				}
			}
			if len(list.Servers) == 0 || list.Servers[0].State != "ready" {
				t.Errorf("servers seen from n2: %v %+v", err, list)
			}
			res, err := rest.cl.Do(ctx, "GET", n1.HTTPAddr(), "/v1/tenants/acme/servers", nil)
			if err != nil || res.JSON(&list) != nil || len(list.Servers) == 0 || list.Servers[0].Metrics["tick_ms"] != 16.5 {
				t.Errorf("servers seen from n1: %v %+v", err, list)
			}
		},
		"ALLOCATE": func(server string) {
			var a struct {
				ServerID string `json:"server_id"`
			}
			body := rest.do(n2.HTTPAddr(), "POST", "/v1/tenants/acme/allocations", map[string]any{
				"selectors": []any{map[string]any{"labels": map[string]string{"mode": "ctf"}}},
				"metadata":  map[string]any{"annotations": map[string]string{"map": "dust"}}}, http.StatusCreated)
			if err := json.Unmarshal(body, &a); err != nil || a.ServerID != server {
				t.Errorf("allocation %s: %v, want server %s", body, err, server)
			}
		},
		"DRAIN": func(server string) {
			rest.do(n2.HTTPAddr(), "POST", "/v1/tenants/acme/servers/"+server+"/drain", map[string]any{}, http.StatusAccepted)
		},
		"KILL_NODE": func(string) {
			if err := n1.Kill(); err != nil {
				t.Error(err)
			}
		},
		"RESTART_NODE": func(string) {
			if err := n1.Restart(); err != nil {
				t.Error(err)
			}
			rest.waitReady(n1.HTTPAddr())
		},
	}
	out := runC(t, ctx, bins["cn_test"], append(env, append(rest.players(n1.HTTPAddr(), "-1"), "CN_BENCH=1")...), handlers)
	if !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("cn_test:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "BENCH") || strings.HasPrefix(l, "KICK_MS") || strings.HasPrefix(l, "ALLOCATED_MS") {
			t.Log(l)
		}
	}
	if asan, ok := bins["cn_test_asan"]; ok { // the same test, with AddressSanitizer
		out := runC(t, ctx, asan, append(env, rest.players(n1.HTTPAddr(), "-2")...), handlers)
		if !strings.Contains(out, "\nPASS\n") {
			t.Fatalf("cn_test under ASan:\n%s", out)
		}
	}
	out = runC(t, ctx, bins["example"], append(env, rest.players(n1.HTTPAddr(), "")...), handlers)
	if !strings.Contains(out, "shut down cleanly") {
		t.Fatalf("example:\n%s", out)
	}
}

// buildAll builds the agent and the shared library in parallel, then the
// C programs.
func buildAll(t *testing.T, ctx context.Context, dir string) map[string]string {
	t.Helper()
	root, _ := filepath.Abs("..")
	bins := map[string]string{"cassnet": filepath.Join(dir, "cassnet"), "lib": filepath.Join(dir, "libcassnet.so"),
		"cn_test": filepath.Join(dir, "cn_test"), "example": filepath.Join(dir, "example")}
	cmds := [][]string{
		{"go", "build", "-o", bins["cassnet"], "./cmd/cassnet"},
		{"go", "build", "-buildmode=c-shared", "-o", bins["lib"], "./cabi"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cmds))
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(ctx, root, args...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range [][2]string{{"cn_test", "cabi/test/cn_test.c"}, {"example", "cabi/examples/gameserver.c"}} {
		if err := run(ctx, root, "gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-Icabi/include", "-o", bins[p[0]], p[1],
			"-L"+dir, "-lcassnet", "-lpthread", "-Wl,-rpath,"+dir); err != nil {
			t.Fatal(err)
		}
	}
	asan := filepath.Join(dir, "cn_test_asan")
	if err := run(ctx, root, "gcc", "-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1", "-Icabi/include",
		"-o", asan, "cabi/test/cn_test.c", "-L"+dir, "-lcassnet", "-lpthread", "-Wl,-rpath,"+dir); err != nil {
		t.Logf("no AddressSanitizer build (%v); skipping that run", err)
	} else {
		bins["cn_test_asan"] = asan
	}
	return bins
}

func run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// runC runs a C program. Each line it prints that names a handler ("BAN
// alice", "KILL_NODE") runs that handler, then the program gets "GO".
func runC(t *testing.T, ctx context.Context, bin string, env []string, handlers map[string]func(arg string)) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		name, arg, _ := strings.Cut(line, " ")
		if h, ok := handlers[name]; ok {
			h(arg)
			_, _ = io.WriteString(stdin, "GO\n")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("%s: %v", filepath.Base(bin), err)
	}
	return out.String()
}
