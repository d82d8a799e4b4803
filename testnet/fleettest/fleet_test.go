package fleettest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// fastArgs shortens the failure-detection timers (as testnet's own).
var fastArgs = []string{
	"--dead-server-grace", "8s", "--stabilization-time", "2s", "--reconnect-interval", "1s",
}

// env is a started cluster and its operator client.
type env struct {
	t     testing.TB
	c     *testnet.Cluster
	cl    *testnet.Client
	nodes []*testnet.Node
}

func startCluster(t testing.TB, ctx context.Context, n int) *env {
	t.Helper()
	return startClusterOn(t, ctx, n, nil)
}

// startClusterOn is startCluster with every node in its own network
// namespace on net (so that partitions can cut them), or on loopback
// addresses when net is nil.
func startClusterOn(t testing.TB, ctx context.Context, n int, net *testnet.Netns) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir, AgentArgs: fastArgs, Net: net})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if net != nil {
			_ = net.Close(context.Background())
		}
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					if len(b) > 8000 {
						b = b[len(b)-8000:]
					}
					t.Logf("==== %s log (tail) ====\n%s", nd.Name, b)
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
		args := []string{"--fleet-allow", filepath.Dir(gsPath), "--node-label", "region=eu", "--node-label", fmt.Sprintf("slot=s%d", i)}
		if net != nil {
			_, err = c.Spawn(ctx, args...) // n<i> in its namespace
		} else {
			_, err = c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i), args...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, c: c, cl: testnet.NewClient(c.AdminToken()), nodes: c.Nodes()}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := testnet.WaitVoters(wctx, e.cl, e.nodes, n); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
	return e
}

// do calls the REST API of node i and decodes the answer into out (if
// not nil), failing unless the status is want.
func (e *env) do(ctx context.Context, i int, method, path string, body any, want int, out any) {
	e.t.Helper()
	resp, err := e.cl.Do(ctx, method, e.nodes[i].HTTPAddr(), path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.Status, want, resp.Body)
	}
	if out != nil {
		if err := resp.JSON(out); err != nil {
			e.t.Fatal(err)
		}
	}
}

type server struct {
	ID    string `json:"id"`
	Fleet string `json:"fleet"`
	Node  string `json:"node"`
	State string `json:"state"`
}

func (e *env) servers(ctx context.Context) []server {
	e.t.Helper()
	var list struct {
		Servers []server `json:"servers"`
	}
	e.do(ctx, 0, "GET", "/v1/tenants/acme/servers?fleet=ctf", nil, 200, &list)
	return list.Servers
}

func byState(list []server) map[string]int {
	m := map[string]int{}
	for _, s := range list {
		m[s.State]++
	}
	return m
}

// waitState waits until the fleet's servers count want in each named
// state, and returns how long it took.
func (e *env) waitState(ctx context.Context, timeout time.Duration, want map[string]int) time.Duration {
	e.t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last map[string]int
	err := testnet.WaitFor(wctx, func() error {
		last = byState(e.servers(ctx))
		for st, n := range want {
			if last[st] != n {
				return fmt.Errorf("by state %v", last)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("want %v within %v: last %v", want, timeout, last)
	}
	return time.Since(start)
}

func procsOf(fleet string) map[string]proc {
	m := map[string]proc{}
	for _, p := range gameProcs(gsPath) {
		if p.fleet == fleet {
			m[p.server] = p
		}
	}
	return m
}

const secretValue = "hunter2-never-shown"

func spec() map[string]any {
	return map[string]any{
		"command":                []string{gsPath, "-match", "ctf"},
		"env":                    map[string]string{"GS_SECRET": secretValue},
		"ports":                  []map[string]string{{"name": "game", "protocol": "udp", "range": "21000-21999"}},
		"labels":                 map[string]string{"mode": "ctf"},
		"node_selector":          map[string]string{"region": "eu"},
		"buffer":                 map[string]int{"ready": 4},
		"max_servers":            12,
		"max_per_node":           4,
		"restart":                map[string]int{"max_restarts": 3, "backoff_seconds": 1},
		"shutdown_grace_seconds": 5,
	}
}

// TestFleetOnRealNodes is the proof on three real agents: the
// buffer fills, allocations are replaced, a killed process restarts, a
// power restart and the logs work from another node, a dead node's
// servers are refilled elsewhere, and deleting the fleet leaves no
// process behind.
func TestFleetOnRealNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	e := startCluster(t, ctx, 3)
	e.do(ctx, 0, "POST", "/v1/tenants", map[string]string{"name": "acme"}, 201, nil)
	e.do(ctx, 0, "POST", "/v1/tenants/acme/projects", map[string]string{"name": "arena"}, 201, nil)

	// Labels are gossiped and shown.
	var nodes struct {
		Nodes []struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
			Fleets bool              `json:"fleets"`
		} `json:"nodes"`
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := testnet.WaitFor(wctx, func() error {
		e.do(ctx, 1, "GET", "/v1/cluster/nodes", nil, 200, &nodes)
		for _, n := range nodes.Nodes {
			if n.Labels["region"] != "eu" || !n.Fleets {
				return fmt.Errorf("node %s: labels %v fleets %v", n.Name, n.Labels, n.Fleets)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wcancel()

	// buffer.ready 4 on 3 nodes: 4 ready within 10 s.
	e.do(ctx, 1, "PUT", "/v1/tenants/acme/projects/arena/fleets/ctf", spec(), 201, nil)
	took := e.waitState(ctx, 10*time.Second, map[string]int{"ready": 4})
	t.Logf("4 ready servers %v after PUT", took.Round(time.Millisecond))
	if n := len(procsOf("ctf")); n != 4 {
		t.Fatalf("%d game-server processes, want 4", n)
	}

	// The fleet's status; the env value never appears.
	resp, err := e.cl.Do(ctx, "GET", e.nodes[2].HTTPAddr(), "/v1/tenants/acme/projects/arena/fleets/ctf", nil)
	if err != nil || resp.Status != 200 {
		t.Fatalf("GET fleet: %v %v", err, resp)
	}
	if strings.Contains(string(resp.Body), secretValue) || !strings.Contains(string(resp.Body), "[redacted]") {
		t.Fatalf("fleet GET leaks or does not redact the env: %s", resp.Body)
	}

	// A fleet whose binary is missing: every node says so in its status.
	broken := spec()
	broken["command"] = []string{filepath.Join(filepath.Dir(gsPath), "missing")}
	broken["buffer"] = map[string]int{"ready": 1}
	e.do(ctx, 0, "PUT", "/v1/tenants/acme/projects/arena/fleets/broken", broken, 201, nil)
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	if err := testnet.WaitFor(wctx, func() error {
		var f struct {
			Status struct {
				Errors []struct {
					Node, Kind string
				} `json:"errors"`
			} `json:"status"`
		}
		e.do(ctx, 1, "GET", "/v1/tenants/acme/projects/arena/fleets/broken", nil, 200, &f)
		if len(f.Status.Errors) == 0 || f.Status.Errors[0].Kind != "no_binary" {
			return fmt.Errorf("errors %+v", f.Status.Errors)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wcancel()
	e.do(ctx, 0, "DELETE", "/v1/tenants/acme/projects/arena/fleets/broken", nil, 204, nil)

	// 2 allocations: 2 replacements.
	start := time.Now()
	for range 2 {
		e.do(ctx, 2, "POST", "/v1/tenants/acme/allocations", map[string]any{"project_id": "arena", "fleet": "ctf"}, 201, nil)
	}
	e.waitState(ctx, 10*time.Second, map[string]int{"ready": 4, "allocated": 2})
	t.Logf("2 allocations replaced in %v", time.Since(start).Round(time.Millisecond))

	// kill -9 of a server process: the supervisor restarts it.
	list := e.servers(ctx)
	victim := list[slices.IndexFunc(list, func(s server) bool { return s.State == "ready" })]
	old := procsOf("ctf")[victim.ID]
	if old.pid == 0 {
		t.Fatalf("no process for %s", victim.ID)
	}
	if err := syscall.Kill(old.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitPid(ctx, victim.ID, old.pid)

	// A power restart from another node.
	other := slices.IndexFunc(e.nodes, func(n *testnet.Node) bool { return n.Name != victim.Node })
	before := procsOf("ctf")[victim.ID].pid
	e.do(ctx, other, "POST", "/v1/tenants/acme/servers/"+victim.ID+"/power", map[string]string{"action": "restart"}, 202, nil)
	e.waitPid(ctx, victim.ID, before)

	// The logs from another node show the game server's output.
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	if err := testnet.WaitFor(wctx, func() error {
		var logs struct {
			Lines []struct {
				Text string `json:"text"`
			} `json:"lines"`
		}
		e.do(ctx, other, "GET", "/v1/tenants/acme/servers/"+victim.ID+"/logs", nil, 200, &logs)
		for _, l := range logs.Lines {
			if strings.Contains(l.Text, "simple-gameserver "+victim.ID+" ready") {
				return nil
			}
		}
		return fmt.Errorf("no ready line in %d lines", len(logs.Lines))
	}); err != nil {
		t.Fatal(err)
	}
	wcancel()
	e.followRestart(ctx, other, victim.ID)

	// CN_KEY never appears in a node's log.
	e.waitPid(ctx, victim.ID, -1) // it was just restarted
	key := procsOf("ctf")[victim.ID].key

	// Its process, sampled on its node, asked of another.
	var pi struct {
		PID   int            `json:"pid"`
		State string         `json:"state"`
		Ports map[string]int `json:"ports"`
		Node  string         `json:"node"`
	}
	e.do(ctx, other, "GET", "/v1/tenants/acme/servers/"+victim.ID+"/process", nil, 200, &pi)
	if pi.PID != procsOf("ctf")[victim.ID].pid || pi.Node != victim.Node || pi.Ports["game"] == 0 {
		t.Fatalf("process %+v, want pid %d on %s", pi, procsOf("ctf")[victim.ID].pid, victim.Node)
	}
	if !strings.HasPrefix(key, "cnsk_") {
		t.Fatalf("CN_KEY %q", key)
	}
	for _, nd := range e.nodes {
		b, _ := os.ReadFile(nd.LogPath())
		if strings.Contains(string(b), key[len(key)-20:]) || strings.Contains(string(b), secretValue) {
			t.Fatalf("%s's log holds a CN_KEY or an env value", nd.Name)
		}
	}

	// A dead node: its servers are lost and the buffer refills elsewhere.
	dead := e.nodes[2]
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	e.nodes = e.nodes[:2]
	// Its servers show as lost, in GET servers and in the fleet's status
	// (seen before the reaper's grace removes them), and the buffer
	// refills on the others.
	var lostSeen, lostInStatus bool
	wctx, wcancel = context.WithTimeout(ctx, 40*time.Second)
	if err := testnet.WaitFor(wctx, func() error {
		ready := 0
		for _, s := range e.servers(ctx) {
			if s.State == "ready" && s.Node != dead.Name {
				ready++
			}
			if s.Node == dead.Name && s.State == "lost" {
				lostSeen = true
			}
		}
		if !lostInStatus {
			var f struct {
				Status struct {
					ByNode  map[string]map[string]int `json:"by_node"`
					ByState map[string]int            `json:"by_state"`
				} `json:"status"`
			}
			e.do(ctx, 0, "GET", "/v1/tenants/acme/projects/arena/fleets/ctf", nil, 200, &f)
			lostInStatus = f.Status.ByState["lost"] > 0 && f.Status.ByNode[dead.Name]["lost"] > 0
		}
		if ready < 4 || !lostSeen || !lostInStatus {
			return fmt.Errorf("%d ready on live nodes; lost seen in servers %v, in the fleet status %v", ready, lostSeen, lostInStatus)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wcancel()
	t.Logf("node %s killed: buffer refilled on the others in %v", dead.Name, time.Since(killed).Round(time.Millisecond))

	// It comes back: its servers died with it and are removed as lost.
	// Then a graceful stop (SIGTERM) of another node: it stops its
	// processes and removes their records before handing off, so the
	// buffer refills at once, not when the mesh notices.
	if err := dead.Restart(); err != nil {
		t.Fatal(err)
	}
	e.nodes = append(e.nodes, dead)
	wctx, wcancel = context.WithTimeout(ctx, 30*time.Second)
	if err := testnet.WaitVoters(wctx, e.cl, e.nodes, 3); err != nil {
		t.Fatal(err)
	}
	wcancel()
	stopped := e.nodes[1]
	stopAt := time.Now()
	if err := stopped.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopTook := time.Since(stopAt)
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	if err := testnet.WaitFor(wctx, func() error {
		ready := 0
		for _, s := range e.servers(ctx) {
			if s.Node == stopped.Name {
				return fmt.Errorf("%s still holds %s (%s)", stopped.Name, s.ID, s.State)
			}
			if s.State == "ready" {
				ready++
			}
		}
		if ready < 4 {
			return fmt.Errorf("%d ready", ready)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wcancel()
	t.Logf("node %s stopped in %v; buffer refilled %v after the stop began", stopped.Name, stopTook.Round(time.Millisecond), time.Since(stopAt).Round(time.Millisecond))

	// Deleting the fleet stops every process: none is left.
	e.do(ctx, 0, "DELETE", "/v1/tenants/acme/projects/arena/fleets/ctf", nil, 204, nil)
	wctx, wcancel = context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := testnet.WaitFor(wctx, func() error {
		if n := len(gameProcs(gsPath)); n > 0 {
			return fmt.Errorf("%d game-server processes left", n)
		}
		if n := len(e.servers(ctx)); n > 0 {
			return fmt.Errorf("%d server records left", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitPid waits until server id runs with a pid other than old.
func (e *env) waitPid(ctx context.Context, id string, old int) {
	e.t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := testnet.WaitFor(wctx, func() error {
		if p := procsOf("ctf")[id]; p.pid == 0 || p.pid == old {
			return fmt.Errorf("server %s: pid %d (old %d)", id, p.pid, old)
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// followRestart follows a server's logs (SSE) from node i, restarts it,
// and waits for its new ready line on the stream.
func (e *env) followRestart(ctx context.Context, i int, id string) {
	e.t.Helper()
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(fctx, "GET", "http://"+e.nodes[i].HTTPAddr()+"/v1/tenants/acme/servers/"+id+"/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+e.c.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("follow: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if _, err := rd.ReadString('\n'); err != nil { // ": following"
		e.t.Fatal(err)
	}
	addr, done := e.nodes[i].HTTPAddr(), make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(200 * time.Millisecond)
		_, _ = e.cl.Do(ctx, "POST", addr, "/v1/tenants/acme/servers/"+id+"/power", map[string]string{"action": "restart"})
	}()
	defer func() { <-done }()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			e.t.Fatalf("follow ended before the ready line: %v", err)
		}
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			continue
		}
		var l struct {
			Text string `json:"text"`
		}
		if json.Unmarshal([]byte(data), &l) == nil && strings.Contains(l.Text, "ready on udp port") {
			return
		}
	}
}
