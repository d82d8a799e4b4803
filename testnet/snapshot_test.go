package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSnapshotSaveRestore follows docs/operations.md's snapshot runbook
// with real agents: save through a follower, write more, restore through
// the other follower, and every node holds exactly the saved state (the
// state hash at the save, and the saved bans and nothing after). A
// corrupt archive is refused, and so is restoring into another cluster
// unless forced; forced, the new cluster serves the same reads. The
// snapshot agent on the leader writes archives and keeps --snapshot-retain.
func TestSnapshotSaveRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	agentDir := t.TempDir()
	c, cl := startCluster(t, ctx, 3, 3, "--snapshot-interval", "1s", "--snapshot-dir", agentDir, "--snapshot-retain", "2")
	nodes := c.Nodes()
	leader := leaderOf(t, ctx, cl, nodes)
	followers := others(nodes, leader)
	op := func(args ...string) (string, error) {
		b, err := exec.Command(binPath, args...).CombinedOutput()
		return string(b), err
	}

	mustWrite(t, ctx, cl, leader, "/v1/tenants", map[string]any{"name": "snap"}, http.StatusCreated)
	var saved []string
	for i := 0; i < 10; i++ {
		r := mustWrite(t, ctx, cl, nodes[i%3], "/v1/tenants/snap/bans", map[string]any{"player_id": fmt.Sprintf("p%d", i), "reason": "x"}, http.StatusCreated)
		var b banBody
		if err := r.JSON(&b); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, b.ID)
	}
	// Replicated autopilot settings: set through one node, read on
	// another, and part of the saved state.
	out, err := op("operator", "autopilot", "set", "--stabilization-time", "3s", "--cleanup-dead-servers=false",
		"--http-addr", followers[0].HTTPAddr(), "--token", c.AdminToken())
	if err != nil {
		t.Fatalf("operator autopilot set: %v\n%s", err, out)
	}
	out, err = op("operator", "autopilot", "get", "--http-addr", followers[1].HTTPAddr(), "--token", c.AdminToken())
	if err != nil || !regexp.MustCompile(`StabilizationTime\s+3s\s+replicated`).MatchString(out) ||
		!regexp.MustCompile(`CleanupDeadServers\s+false\s+replicated`).MatchString(out) ||
		!regexp.MustCompile(`TargetVoters\s+3\s+agent flag`).MatchString(out) {
		t.Fatalf("operator autopilot get: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	out, err = op("snapshot", "save", file, "--http-addr", followers[0].HTTPAddr(), "--token", c.AdminToken())
	if err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	waitConverged(t, ctx, cl, nodes)
	info, err := cl.Raft(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	hashAtSave := info.StateHash
	out, err = op("snapshot", "inspect", file, "--json")
	if err != nil {
		t.Fatalf("snapshot inspect: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"state_hash": "`+hashAtSave+`"`) || !strings.Contains(out, `"bans": 10`) {
		t.Fatalf("inspect does not show the saved state (hash %s, 10 bans):\n%s", hashAtSave, out)
	}

	// Write more, then restore through the other follower.
	mustWrite(t, ctx, cl, leader, "/v1/tenants", map[string]any{"name": "later"}, http.StatusCreated)
	for i := 0; i < 5; i++ {
		mustWrite(t, ctx, cl, followers[1], "/v1/tenants/snap/bans", map[string]any{"player_id": fmt.Sprintf("late%d", i), "reason": "x"}, http.StatusCreated)
	}
	out, err = op("snapshot", "restore", file, "--http-addr", followers[1].HTTPAddr(), "--token", c.AdminToken())
	if err != nil {
		t.Fatalf("snapshot restore: %v\n%s", err, out)
	}
	if !hashesAre(ctx, cl, nodes, hashAtSave, 30*time.Second) {
		logStateDiff(t, file, followers[0], c.AdminToken())
		waitHash(t, ctx, cl, nodes, hashAtSave) // fails, with each node's state
	}
	for _, n := range nodes {
		bans, err := listBans(ctx, cl, n, "snap")
		if err != nil {
			t.Fatal(err)
		}
		if len(bans) != len(saved) {
			t.Errorf("%s lists %d bans after the restore, want the %d saved", n.Name, len(bans), len(saved))
		}
	}
	checkBansIn(t, ctx, cl, followers[0], "snap", saved)
	mustWrite(t, ctx, cl, followers[0], "/v1/tenants/snap/bans", map[string]any{"player_id": "after", "reason": "x"}, http.StatusCreated)

	// A damaged archive is refused, by the CLI and by the API.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0x20
	badFile := filepath.Join(t.TempDir(), "bad.snap")
	if err := os.WriteFile(badFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := op("snapshot", "restore", badFile, "--http-addr", leader.HTTPAddr(), "--token", c.AdminToken()); err == nil || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("restoring a corrupt archive: %v\n%s", err, out)
	}
	r, err := cl.Do(ctx, http.MethodPut, leader.HTTPAddr(), "/v1/cluster/snapshot", RawBody(bad))
	if err != nil || r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "checksum") {
		t.Fatalf("PUT of a corrupt archive: %v %+v", err, r)
	}

	// Another cluster refuses the archive unless forced, then serves the
	// same reads.
	other := startSecondCluster(t, ctx)
	on := other.Nodes()[0]
	out, err = op("snapshot", "restore", file, "--http-addr", on.HTTPAddr(), "--token", other.AdminToken())
	if err == nil || !strings.Contains(out, "409") || !strings.Contains(out, "of cluster") {
		t.Fatalf("restoring into another cluster without --force: %v\n%s", err, out)
	}
	out, err = op("snapshot", "restore", file, "--force", "--http-addr", on.HTTPAddr(), "--token", other.AdminToken())
	if err != nil {
		t.Fatalf("snapshot restore --force: %v\n%s", err, out)
	}
	// The restored state holds the first cluster's operator tokens: its
	// admin token now works here, and the second cluster's no longer.
	waitHash(t, ctx, cl, []*Node{on}, hashAtSave)
	checkBansIn(t, ctx, cl, on, "snap", saved)

	// The snapshot agent: only the leader writes, and two are kept.
	err = WaitFor(ctx, func() error {
		names, _ := filepath.Glob(filepath.Join(agentDir, "cassnet-*.snap"))
		if len(names) != 2 {
			return fmt.Errorf("%d archives in the snapshot dir, want 2 (retained)", len(names))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The agent keeps writing (every second) and pruning: an archive
	// listed here may be gone before inspect reads it, so inspect what is
	// there again until one listing is read whole.
	err = WaitFor(ctx, func() error {
		names, _ := filepath.Glob(filepath.Join(agentDir, "cassnet-*.snap"))
		for _, name := range names {
			out, err := op("snapshot", "inspect", name, "--json")
			if _, serr := os.Stat(name); err != nil && errors.Is(serr, os.ErrNotExist) {
				return fmt.Errorf("%s was pruned while it was read", name)
			}
			if err != nil || !strings.Contains(out, `"node": "`+leader.Name+`"`) {
				t.Fatalf("inspect of an agent archive (want one the leader %s wrote): %v\n%s", leader.Name, err, out)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hashesAre waits up to within for every node to report the state hash
// want.
func hashesAre(ctx context.Context, cl *Client, nodes []*Node, want string, within time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return WaitFor(wctx, func() error {
		for _, n := range nodes {
			if info, err := cl.Raft(wctx, n); err != nil || info.StateHash != want {
				return fmt.Errorf("%s: %s %v", n.Name, info.StateHash, err)
			}
		}
		return nil
	}) == nil
}

// logStateDiff saves n's state and logs the snapshot sections that differ
// from the archive in file.
func logStateDiff(t *testing.T, file string, n *Node, token string) {
	t.Helper()
	now := file + ".now"
	if b, err := exec.Command(binPath, "snapshot", "save", now, "--http-addr", n.HTTPAddr(), "--token", token).CombinedOutput(); err != nil {
		t.Logf("save for the diff: %v %s", err, b)
		return
	}
	sections := func(path string) map[string]json.RawMessage {
		// The body is everything between the header line and the
		// trailer line (consensus/archive.go); it spans many lines.
		b, _ := os.ReadFile(path)
		b = bytes.TrimSuffix(b, []byte("\n"))
		first, last := bytes.IndexByte(b, '\n'), bytes.LastIndexByte(b, '\n')
		var body struct {
			Sections map[string]json.RawMessage `json:"sections"`
		}
		if first < 0 || last <= first {
			t.Logf("%s: not an archive", path)
			return nil
		}
		if err := json.Unmarshal(b[first+1:last], &body); err != nil {
			t.Logf("%s: body: %v", path, err)
		}
		return body.Sections
	}
	was, is := sections(file), sections(now)
	if len(was) == 0 || len(is) == 0 {
		t.Logf("no sections to compare (saved %d, now %d)", len(was), len(is))
	}
	for name := range is {
		if !bytes.Equal(was[name], is[name]) {
			t.Logf("section %s differs:\nsaved: %.1500s\nnow:   %.1500s", name, was[name], is[name])
		}
	}
}

// waitHash waits until every node reports the state hash want.
func waitHash(t *testing.T, ctx context.Context, cl *Client, nodes []*Node, want string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := WaitFor(wctx, func() error {
		for _, n := range nodes {
			info, err := cl.Raft(wctx, n)
			if err != nil {
				return err
			}
			if info.StateHash != want {
				return fmt.Errorf("%s has state hash %s, want %s", n.Name, info.StateHash, want)
			}
		}
		return nil
	})
	if err != nil {
		for _, n := range nodes { // what each node holds, to tell a lost restore from a later write
			info, ierr := cl.Raft(ctx, n)
			bans, _ := listBans(ctx, cl, n, "snap")
			t.Logf("%s: %s term %d applied %d hash %s, %d bans in snap (%v)", n.Name, info.State, info.Term, info.AppliedIndex, info.StateHash, len(bans), ierr)
		}
		t.Fatal(err)
	}
}

// checkBansIn fails unless n lists exactly the bans ids in tenant.
func checkBansIn(t *testing.T, ctx context.Context, cl *Client, n *Node, tenant string, ids []string) {
	t.Helper()
	bans, err := listBans(ctx, cl, n, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := bans[id]; !ok {
			t.Errorf("%s: saved ban %s is missing", n.Name, id)
		}
	}
	if len(bans) != len(ids) {
		t.Errorf("%s lists %d bans, want %d", n.Name, len(bans), len(ids))
	}
}

// startSecondCluster starts a one-node cluster of its own (a CA of its
// own, so another cluster ID).
func startSecondCluster(t *testing.T, ctx context.Context) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := NewCluster(Config{Bin: binPath, Dir: dir, AgentArgs: append(append([]string(nil), fastArgs...), "--voters", "1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== second cluster %s log ====\n%s", nd.Name, tail(b, 4000))
				}
			}
		}
	})
	if _, err := c.AddNode(ctx, "m1", "127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, ctx, NewClient(c.AdminToken()), c.Nodes(), 1)
	return c
}
