package fleettest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// TestFleetRunsCExample runs examples/simple-gameserver (C, on
// libcassnet, configured only by the CN_* environment) as a fleet on one
// real agent: the buffer fills, an allocation is replaced, the match ends
// when the server is told EXIT (cn_shutdown, exit 0) and the buffer
// stays, and deleting the fleet leaves no process. Skipped without gcc.
func TestFleetRunsCExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds libcassnet and the example, starts a real agent")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	games := filepath.Join(t.TempDir(), "games")
	exe := buildExample(t, ctx, games)

	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: t.TempDir(), AgentArgs: []string{"--voters", "1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	if _, err := c.AddNode(ctx, "n1", "127.0.0.1", "--fleet-allow", games); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c, cl: testnet.NewClient(c.AdminToken()), nodes: c.Nodes()}
	if err := testnet.WaitVoters(ctx, e.cl, e.nodes, 1); err != nil {
		t.Fatal(err)
	}
	e.do(ctx, 0, "POST", "/v1/tenants", map[string]string{"name": "acme"}, 201, nil)
	e.do(ctx, 0, "POST", "/v1/tenants/acme/projects", map[string]string{"name": "arena"}, 201, nil)
	e.do(ctx, 0, "PUT", "/v1/tenants/acme/projects/arena/fleets/ctf", map[string]any{
		"command": []string{exe}, "ports": []map[string]string{{"name": "game", "protocol": "udp", "range": "23000-23999"}},
		"buffer": map[string]int{"ready": 2}, "max_servers": 6, "shutdown_grace_seconds": 5,
		"resources": map[string]int{"memory_mb": 256, "cpu_percent": 50},
	}, 201, nil)
	e.waitState(ctx, 15*time.Second, map[string]int{"ready": 2})

	// Limits: applied (cgroup v2 delegated to the node) or, where they
	// cannot be, the fleet's status says so.
	var pi struct {
		Limited    bool   `json:"limited"`
		LimitError string `json:"limit_error"`
	}
	e.do(ctx, 0, "GET", "/v1/tenants/acme/servers/"+e.servers(ctx)[0].ID+"/process", nil, 200, &pi)
	if !pi.Limited {
		var f struct {
			Status struct {
				Errors []struct{ Node, Kind, Error string } `json:"errors"`
			} `json:"status"`
		}
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err := testnet.WaitFor(wctx, func() error {
			e.do(ctx, 0, "GET", "/v1/tenants/acme/projects/arena/fleets/ctf", nil, 200, &f)
			if len(f.Status.Errors) != 1 || f.Status.Errors[0].Kind != "limits" {
				return fmt.Errorf("errors %+v", f.Status.Errors)
			}
			return nil
		})
		wcancel()
		if err != nil {
			t.Fatalf("limits not applied (%s) and the status does not say so: %v", pi.LimitError, err)
		}
		t.Logf("no cgroup limits here: %s", f.Status.Errors[0].Error)
	}

	var a struct {
		ServerID string            `json:"server_id"`
		Ports    map[string]uint32 `json:"ports"`
	}
	e.do(ctx, 0, "POST", "/v1/tenants/acme/allocations", map[string]any{"project_id": "arena", "fleet": "ctf"}, 201, &a)
	e.waitState(ctx, 15*time.Second, map[string]int{"ready": 2, "allocated": 1})
	if a.Ports["game"] == 0 {
		t.Fatalf("allocation without a game port: %+v", a)
	}
	// The match ends: EXIT over UDP; the server shuts down and is not
	// replaced beyond the buffer.
	conn, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(a.Ports["game"]))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("EXIT")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := conn.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "BYE") {
		t.Fatalf("EXIT answered %q, %v", buf[:n], err)
	}
	e.waitState(ctx, 15*time.Second, map[string]int{"ready": 2, "allocated": 0})
	if n := len(e.servers(ctx)); n != 2 {
		t.Fatalf("%d servers after the match ended, want 2", n)
	}
	e.do(ctx, 0, "DELETE", "/v1/tenants/acme/projects/arena/fleets/ctf", nil, 204, nil)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := testnet.WaitFor(wctx, func() error {
		if n := len(gameProcs(exe)); n > 0 {
			return fmt.Errorf("%d example processes left", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// buildExample builds libcassnet.so and the example into dir.
func buildExample(t *testing.T, ctx context.Context, dir string) string {
	t.Helper()
	root, _ := filepath.Abs("../..")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "simple-gameserver")
	for _, args := range [][]string{
		{"go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "libcassnet.so"), "./cabi"},
		{"gcc", "-Wall", "-Wextra", "-Werror", "-O2", "-Icabi/include", "-o", exe, "examples/simple-gameserver/main.c",
			"-L" + dir, "-lcassnet", "-lpthread", "-Wl,-rpath,$ORIGIN"},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return exe
}
