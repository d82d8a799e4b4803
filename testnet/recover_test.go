package testnet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRecoverLostQuorum follows docs/operations.md's outage runbook: of 3
// voters, 2 are lost for good (killed, data dirs destroyed). The survivor,
// which cannot write alone, is stopped and recovered with `cassnet
// recover`; it restarts as a one-voter cluster that serves every
// acknowledged write, and two new nodes join with a fresh join token and
// are promoted back to 3 voters.
func TestRecoverLostQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	survivor, lost := nodes[0], nodes[1:]

	mustWrite(t, ctx, cl, survivor, "/v1/tenants", map[string]any{"name": "rec"}, http.StatusCreated)
	var acked []string
	for i := 0; i < 60; i++ { // past the snapshot threshold: recovery replays a snapshot and a log
		r := mustWrite(t, ctx, cl, nodes[i%3], "/v1/tenants/rec/bans", map[string]any{"player_id": fmt.Sprintf("p%d", i), "reason": "x"}, http.StatusCreated)
		var b banBody
		if err := r.JSON(&b); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, b.ID)
	}
	// The survivor must hold every acknowledged write: with 3 voters a
	// write is on at least 2, so a runbook picks the survivor with the
	// highest last index (recover --dry-run); here all have converged.
	waitConverged(t, ctx, cl, nodes)

	for _, n := range lost {
		if err := n.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(n.DataDir); err != nil {
			t.Fatal(err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	resp, err := cl.Do(wctx, http.MethodPost, survivor.HTTPAddr(), "/v1/tenants/rec/bans", map[string]any{"player_id": "no-quorum", "reason": "x"})
	wcancel()
	if err == nil && resp.Status == http.StatusCreated {
		t.Fatal("a write succeeded on one voter of three")
	}
	if err := survivor.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	// The runbook: a dry run to compare survivors, then the recovery.
	out := cassnet(t, "recover", "--data-dir", survivor.DataDir, "--dry-run")
	if !strings.Contains(out, "dry run: nothing changed") || strings.Count(out, " voter") != 3 {
		t.Fatalf("dry run printed:\n%s", out)
	}
	out = cassnet(t, "recover", "--data-dir", survivor.DataDir)
	t.Logf("cassnet recover:\n%s", out)
	if !strings.Contains(out, "now the only voter") {
		t.Fatalf("recover printed:\n%s", out)
	}
	if err := survivor.Restart(); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, ctx, cl, []*Node{survivor}, 1)
	checkBans(t, ctx, cl, survivor, acked)
	mustWrite(t, ctx, cl, survivor, "/v1/tenants/rec/bans", map[string]any{"player_id": "after-recover", "reason": "x"}, http.StatusCreated)

	// New nodes join with a fresh token and are promoted to voters.
	token, _ := createJoinToken(t, ctx, cl, survivor)
	fresh := []*Node{survivor}
	for i := 4; i <= 5; i++ {
		n, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i), "--token", token)
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, n)
	}
	waitVoters(t, ctx, cl, fresh, 3)
	waitConverged(t, ctx, cl, fresh)
	for _, n := range fresh[1:] {
		checkBans(t, ctx, cl, n, acked)
	}
	// A running agent's data dir is refused.
	cmd := exec.Command(binPath, "recover", "--data-dir", survivor.DataDir)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "stop the agent first") {
		t.Fatalf("recover on a running node: %v\n%s", err, b)
	}
}

// cassnet runs the binary with args and returns its output.
func cassnet(t *testing.T, args ...string) string {
	t.Helper()
	b, err := exec.Command(binPath, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("cassnet %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return string(b)
}

// checkBans fails unless n lists every ban in ids.
func checkBans(t *testing.T, ctx context.Context, cl *Client, n *Node, ids []string) {
	t.Helper()
	bans, err := listBans(ctx, cl, n, "rec")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := bans[id]; !ok {
			t.Errorf("%s: acknowledged ban %s is missing", n.Name, id)
		}
	}
}
