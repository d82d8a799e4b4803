// Package e2e_test runs examples/simple-gameserver (C, on
// libcassnet) under the node-local supervisor against a real cassnet
// agent: registration from the environment, UDP echo, a banned player
// kicked, and EXIT ending it with code 0, reported as exited.
package e2e_test

import (
	"context"
	"fmt"
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

	"github.com/cassandranet/cassnet/supervisor"
	"github.com/cassandranet/cassnet/testnet"
)

func TestSimpleGameServerUnderSupervisor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds libcassnet and the example, starts a real agent")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "games") // the --fleet-allow prefix
	began := time.Now()
	agent := build(t, ctx, dir, bin)
	t.Logf("built in %v", time.Since(began))

	c, err := testnet.NewCluster(testnet.Config{Bin: agent, Dir: filepath.Join(dir, "cluster"),
		AgentArgs: []string{"--voters", "1", "--stabilization-time", "1s"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	n1, err := c.AddNode(ctx, "n1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cl := testnet.NewClient(c.AdminToken())
	do := func(method, path string, body any, want int) *testnet.Response {
		t.Helper()
		var res *testnet.Response
		err := testnet.WaitFor(ctx, func() error {
			var err error
			if res, err = cl.Do(ctx, method, n1.HTTPAddr(), path, body); err != nil {
				return err
			}
			if res.Status != want {
				return fmt.Errorf("%s %s: %d %s", method, path, res.Status, res.Body)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	do("POST", "/v1/tenants", map[string]any{"name": "acme"}, http.StatusCreated)
	var key struct{ Key string }
	if err := do("POST", "/v1/tenants/acme/keys", map[string]any{"name": "fleet", "role": "game-server"}, http.StatusCreated).JSON(&key); err != nil {
		t.Fatal(err)
	}
	do("POST", "/v1/tenants/acme/bans", map[string]any{"player_id": "mallory", "reason": "aimbot"}, http.StatusCreated)

	sup, err := supervisor.New(supervisor.Config{Dir: filepath.Join(dir, "logs"), Allow: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Close(context.Background()) })
	start := func(id string) supervisor.Status {
		t.Helper()
		// Only what the fleet agent puts in: the rest is the supervisor's.
		st, err := sup.Start(ctx, supervisor.Spec{ServerID: id, Tenant: "acme", Fleet: "arena",
			Command: []string{filepath.Join(bin, "simple-gameserver")},
			Env:     map[string]string{"CN_NODE": net.JoinHostPort(n1.IP, strconv.Itoa(n1.Ports.GRPC)), "CN_KEY": key.Key},
			Ports:   []supervisor.PortSpec{{Name: "game", Protocol: "udp", Range: "23000-23999"}}, MaxRestarts: 2,
			ShutdownGrace: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				lines, _ := sup.Logs(id, 0)
				for _, l := range lines {
					t.Logf("%s %s: %s", id, l.Stream, l.Text)
				}
			}
		})
		waitLog(t, sup, id, "READY server="+id)
		return st
	}
	st := start("sgs-1")
	if strings.Contains(logText(sup, "sgs-1"), key.Key) {
		t.Error("the server's output holds its key")
	}

	// The node sees it ready, with its game port.
	var list struct {
		Servers []struct {
			ID, State string
			Ports     map[string]int
		}
	}
	if err := testnet.WaitFor(ctx, func() error {
		res, err := cl.Do(ctx, "GET", n1.HTTPAddr(), "/v1/tenants/acme/servers", nil)
		if err != nil {
			return err
		}
		if err := res.JSON(&list); err != nil || len(list.Servers) != 1 || list.Servers[0].State != "ready" {
			return fmt.Errorf("servers %s", res.Body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s := list.Servers[0]; s.ID != "sgs-1" || s.Ports["game"] != st.Ports["game"] {
		t.Errorf("server %+v, supervisor ports %v", s, st.Ports)
	}

	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(st.Ports["game"])))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, c := range [][2]string{{"hello", "ECHO hello"}, {"JOIN mallory", "KICKED mallory"},
		{"JOIN alice", "WELCOME alice"}, {"EXIT", "BYE"}} {
		if got := ask(t, conn, c[0]); got != c[1] {
			t.Errorf("%q: %q, want %q", c[0], got, c[1])
		}
	}
	ended := func(id, kind string) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case e := <-sup.Events():
				if e.ServerID != id || e.Kind == supervisor.EventStarted {
					continue
				}
				if e.Kind != kind || e.ExitCode != 0 {
					t.Fatalf("event %+v, want %s with code 0", e, kind)
				}
			case <-deadline:
				t.Fatalf("no %s event for %s", kind, id)
			}
			break
		}
		if st, _ := sup.Status(id); st.State != kind || st.Restarts != 0 || st.LastExit != "exit status 0" {
			t.Errorf("status %+v", st)
		}
		if !strings.Contains(logText(sup, id), "shut down cleanly") {
			t.Errorf("%s: no clean shutdown in the log", id)
		}
	}
	ended("sgs-1", supervisor.StateExited)
	t.Logf("first server done at %v", time.Since(began))

	// Drained by the cluster, a server ends its match and exits 0 too.
	start("sgs-2")
	do("POST", "/v1/tenants/acme/servers/sgs-2/drain", map[string]any{}, http.StatusAccepted)
	ended("sgs-2", supervisor.StateExited)
	// Stopped by the node (SIGTERM), it shuts down cleanly: stopped.
	start("sgs-3")
	if err := sup.Stop(ctx, "sgs-3"); err != nil {
		t.Fatal(err)
	}
	ended("sgs-3", supervisor.StateStopped)
}

// ask sends one datagram and answers the reply, retrying a lost one.
func ask(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	buf := make([]byte, 1500)
	for i := 0; i < 5; i++ {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := conn.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no answer to %q", msg)
	return ""
}

func logText(s *supervisor.Supervisor, id string) string {
	lines, _ := s.Logs(id, 0)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func waitLog(t *testing.T, s *supervisor.Supervisor, id, text string) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); !strings.Contains(logText(s, id), text); time.Sleep(20 * time.Millisecond) {
		if st, _ := s.Status(id); time.Now().After(end) || st.State == supervisor.StateFailed {
			t.Fatalf("no %q; status %+v", text, st)
		}
	}
}

// build builds the agent, libcassnet.so and the example (as `make
// example-gameserver` does) and answers the agent's path.
func build(t *testing.T, ctx context.Context, dir, bin string) string {
	t.Helper()
	root, _ := filepath.Abs("../../..")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	agent := filepath.Join(dir, "cassnet")
	cmds := [][]string{
		{"go", "build", "-o", agent, "./cmd/cassnet"},
		{"go", "build", "-buildmode=c-shared", "-o", filepath.Join(bin, "libcassnet.so"), "./cabi"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cmds))
	for i, args := range cmds {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = run(ctx, root, args...) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := run(ctx, root, "gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-Icabi/include", "-o",
		filepath.Join(bin, "simple-gameserver"), "examples/simple-gameserver/main.c",
		"-L"+bin, "-lcassnet", "-lpthread", "-Wl,-rpath,$ORIGIN"); err != nil {
		t.Fatal(err)
	}
	return agent
}

func run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
