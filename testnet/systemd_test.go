package testnet

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdNotify runs an agent as a Type=notify unit would: with
// NOTIFY_SOCKET set, it must send READY=1 once GET /v1/ready answers 200,
// and STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real agent process")
	}
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock) // inherited by the agent

	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 1, 1, "--voters", "1")
	nd := c.Nodes()[0]

	await := func(want string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed before %q", want)
				}
				t.Logf("sd_notify: %q", m)
				if strings.Contains(m, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q from the agent within 30 s", want)
			}
		}
	}
	await("READY=1")
	resp, err := cl.Do(ctx, http.MethodGet, nd.HTTPAddr(), "/v1/ready", nil)
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("READY=1 sent but /v1/ready: %v %+v", err, resp)
	}
	if err := nd.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	await("STOPPING=1")
}
