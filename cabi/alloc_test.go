package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// TestAllocationProof is issue 11's proof with real processes: three
// agents, 30 game servers registered through libcassnet (15 labelled
// mode=ctf) spread over them, and 300 concurrent POST .../allocations for
// mode=ctf spread over the three nodes. Exactly 15 succeed, with 15
// distinct servers; the rest answer 409 no_capacity; each allocated server
// sees its CN_EVENT_ALLOCATED within 1 s. Then node n3 is killed: the
// leader marks its servers unhealthy as soon as the mesh declares it
// failed, and removes them after the reap grace (5 s here).
func TestAllocationProof(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the C library and starts three real agents")
	}
	if _, err := os.Stat("/usr/bin/gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins := buildAll(t, ctx, dir)
	root, _ := filepath.Abs("..")
	bins["cn_alloc"] = filepath.Join(dir, "cn_alloc")
	if err := run(ctx, root, "gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-Icabi/include", "-o", bins["cn_alloc"],
		"cabi/test/cn_alloc.c", "-L"+dir, "-lcassnet", "-lpthread", "-Wl,-rpath,"+dir); err != nil {
		t.Fatal(err)
	}

	c, err := testnet.NewCluster(testnet.Config{Bin: bins["cassnet"], Dir: filepath.Join(dir, "cluster"),
		AgentArgs: []string{"--stabilization-time", "1s", "--gameserver-reap-grace", "5s"}})
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
	var https, grpcs []string
	var n3 *testnet.Node
	for i := 1; i <= 3; i++ {
		nd, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i))
		if err != nil {
			t.Fatal(err)
		}
		https = append(https, nd.HTTPAddr())
		n3 = nd
		grpcs = append(grpcs, net.JoinHostPort(nd.IP, strconv.Itoa(nd.Ports.GRPC)))
	}
	rest := &restClient{t: t, ctx: ctx, cl: testnet.NewClient(c.AdminToken())}
	rest.waitReady(https...)
	env := rest.fixture(https[0])
	rest.do(https[0], "POST", "/v1/tenants/acme/projects", map[string]any{"name": "arena"}, http.StatusCreated)
	env = append(env, "CN_NODES="+strings.Join(grpcs, ","), "CN_SERVERS=30", "CN_PROJECT=arena", "CN_WATCH_MS=2000")

	type result struct {
		status         int
		code, server   string
		allocation     string
		sent, answered time.Time
		created        time.Time // stamped by the leader as it proposed the entry
	}
	var results []result
	handlers := map[string]func(string){
		"READY": func(string) {
			waitServers(t, rest, https, 30)
			var mu sync.Mutex
			var wg sync.WaitGroup
			body := map[string]any{"project_id": "arena", "selectors": []any{map[string]any{"labels": map[string]string{"mode": "ctf"}}}}
			for i := range 300 {
				wg.Go(func() {
					sent := time.Now()
					res, err := rest.cl.Do(ctx, "POST", https[i%3], "/v1/tenants/acme/allocations", body)
					r := result{sent: sent, answered: time.Now()}
					if err != nil {
						r.code = err.Error()
					} else {
						var a struct {
							AllocationID string    `json:"allocation_id"`
							ServerID     string    `json:"server_id"`
							CreatedAt    time.Time `json:"created_at"`
							Error        struct {
								Code string `json:"code"`
							} `json:"error"`
						}
						_ = json.Unmarshal(res.Body, &a)
						r.status, r.code, r.server, r.allocation, r.created = res.Status, a.Error.Code, a.ServerID, a.AllocationID, a.CreatedAt
					}
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
				})
			}
			wg.Wait()
		},
		"WATCHED": func(string) {
			killed := time.Now()
			if err := n3.Kill(); err != nil {
				t.Fatal(err)
			}
			onN3 := func(state string) int {
				var list struct{ Servers []struct{ ID string } }
				res, err := rest.cl.Do(ctx, "GET", https[0], "/v1/tenants/acme/servers?node=n3"+state, nil)
				if err != nil || res.JSON(&list) != nil {
					return -1
				}
				return len(list.Servers)
			}
			var unhealthy, removed time.Duration
			for time.Since(killed) < time.Minute && (unhealthy == 0 || removed == 0) {
				if unhealthy == 0 && onN3("&state=lost") == 10 {
					unhealthy = time.Since(killed)
				}
				if unhealthy != 0 && onN3("") == 0 {
					removed = time.Since(killed)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if unhealthy == 0 || removed == 0 {
				t.Errorf("n3 killed %v ago: its servers lost after %v, removed after %v", time.Since(killed), unhealthy, removed)
				return
			}
			t.Logf("n3 killed: its 10 servers lost after %v, removed after %v (grace 5 s)",
				unhealthy.Round(time.Millisecond), removed.Round(time.Millisecond))
			if removed < unhealthy+4*time.Second {
				t.Errorf("removed %v after lost, before the grace period", removed-unhealthy)
			}
		},
	}
	out := runC(t, ctx, bins["cn_alloc"], env, handlers)
	if !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("cn_alloc:\n%s", out)
	}

	events := map[string][]string{} // allocation id -> [server, unix ms]
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "ALLOCATED" {
			events[f[2]] = []string{f[1], f[3]}
		}
	}
	ok, noCap := 0, 0
	servers := map[string]bool{}
	var lat, fromCommit []time.Duration
	var first, last time.Time
	for _, r := range results {
		switch {
		case r.status == http.StatusCreated:
			ok++
			if servers[r.server] || !strings.HasPrefix(r.server, "ctf-") {
				t.Errorf("allocation %s got server %s (duplicate or not mode=ctf)", r.allocation, r.server)
			}
			servers[r.server] = true
			ev, seen := events[r.allocation]
			if !seen || ev[0] != r.server {
				t.Errorf("server %s saw no Allocated event for %s (%v)", r.server, r.allocation, ev)
				continue
			}
			ms, _ := strconv.ParseInt(ev[1], 10, 64)
			// From the request's start: an upper bound on apply-to-event.
			d := time.UnixMilli(ms).Sub(r.sent)
			lat = append(lat, d)
			fromCommit = append(fromCommit, time.UnixMilli(ms).Sub(r.created))
			if d > time.Second {
				t.Errorf("server %s saw its Allocated event %v after the request", r.server, d)
			}
		case r.status == http.StatusConflict && r.code == "no_capacity":
			noCap++
		default:
			t.Errorf("unexpected answer: %d %q", r.status, r.code)
		}
		if first.IsZero() || r.sent.Before(first) {
			first = r.sent
		}
		if r.answered.After(last) {
			last = r.answered
		}
	}
	if ok != 15 || noCap != 285 || len(servers) != 15 {
		t.Fatalf("%d allocated (%d distinct servers), %d no_capacity; want 15, 15, 285", ok, len(servers), noCap)
	}
	slices.Sort(lat)
	slices.Sort(fromCommit)
	t.Logf("300 allocations in %v: 15 allocated, 285 no_capacity; Allocated event after the request's start: p50 %v, max %v; "+
		"after the leader proposed it (created_at, ms resolution): p50 %v, max %v",
		last.Sub(first).Round(time.Millisecond), lat[len(lat)/2], lat[len(lat)-1], fromCommit[len(fromCommit)/2], fromCommit[len(fromCommit)-1])
}

// waitServers waits until every node lists want ready servers.
func waitServers(t *testing.T, rest *restClient, addrs []string, want int) {
	t.Helper()
	for _, a := range addrs {
		for {
			var list struct{ Servers []struct{ State string } }
			res, err := rest.cl.Do(rest.ctx, "GET", a, "/v1/tenants/acme/servers?state=ready", nil)
			if err == nil && res.JSON(&list) == nil && len(list.Servers) == want {
				break
			}
			select {
			case <-rest.ctx.Done():
				t.Fatalf("%s lists %d ready servers, want %d", a, len(list.Servers), want)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
