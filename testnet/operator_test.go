package testnet

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOperatorRaftPeers drives `cassnet operator raft list-peers` and
// `remove-peer` against real agents: a killed voter, which autopilot keeps
// for its (long) grace, is removed through a follower by its address; it
// comes back as a non-voter and is promoted again. A node started with
// --leave-on-terminate leaves on SIGTERM.
func TestOperatorRaftPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3, "--dead-server-grace", "5m")
	nodes := c.Nodes()
	leader := leaderOf(t, ctx, cl, nodes)
	followers := others(nodes, leader)
	via, victim := followers[0], followers[1]
	op := func(args ...string) (string, error) {
		args = append(append([]string{"operator", "raft"}, args...), "--http-addr", via.HTTPAddr(), "--token", c.AdminToken())
		b, err := exec.Command(binPath, args...).CombinedOutput()
		return string(b), err
	}

	out, err := op("list-peers")
	if err != nil {
		t.Fatalf("list-peers: %v\n%s", err, out)
	}
	t.Logf("list-peers:\n%s", out)
	for _, n := range nodes {
		if !strings.Contains(out, n.Name+" ") {
			t.Errorf("list-peers does not name %s", n.Name)
		}
	}
	if strings.Count(out, " true ") != 3 || strings.Count(out, "leader") != 1 {
		t.Errorf("want 3 voters and one leader:\n%s", out)
	}

	info, err := cl.Raft(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, s := range info.Servers {
		if s.ID == info.ID {
			addr = s.Address
		}
	}
	if out, err := op("remove-peer", "--id", info.ID); err == nil || !strings.Contains(out, "alive in gossip") {
		t.Fatalf("removing a live peer: %v\n%s", err, out)
	}
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	if out, err := op("remove-peer", "--id", "no-such-server"); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("removing an unknown peer: %v\n%s", err, out)
	}
	// Gossip notices the failure within a few seconds; autopilot keeps
	// the voter for its 5-minute grace.
	err = WaitFor(ctx, func() error {
		out, err := op("list-peers")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, info.ID) && !strings.HasSuffix(strings.TrimSpace(l), "failed") {
				return fmt.Errorf("%s not failed yet: %s", victim.Name, l)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := op("remove-peer", "--id", addr); err != nil || !strings.Contains(out, "removed "+info.ID) {
		t.Fatalf("remove-peer %s: %v\n%s", addr, err, out)
	}
	rest := others(nodes, victim)
	waitVoters(t, ctx, cl, rest, 2)
	if out, _ := op("list-peers"); strings.Contains(out, info.ID) {
		t.Fatalf("removed peer still listed:\n%s", out)
	}

	// Back from the dead: re-added as a non-voter, then promoted.
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, ctx, cl, nodes, 3)
	mustWrite(t, ctx, cl, victim, "/v1/tenants", map[string]any{"name": fmt.Sprintf("after-%s", victim.Name)}, 201)

	// With --leave-on-terminate, SIGTERM leaves as cassnet leave does.
	n4, err := c.AddNode(ctx, "n4", "127.0.0.4", "--leave-on-terminate")
	if err != nil {
		t.Fatal(err)
	}
	if err := waitReady(ctx, cl, n4, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	n4info, err := cl.Raft(ctx, n4)
	if err != nil {
		t.Fatal(err)
	}
	listed := func(want bool) error {
		out, err := op("list-peers")
		if err != nil {
			return err
		}
		if strings.Contains(out, n4info.ID) != want {
			return fmt.Errorf("n4 listed=%v, want %v:\n%s", !want, want, out)
		}
		return nil
	}
	if err := WaitFor(ctx, func() error { return listed(true) }); err != nil {
		t.Fatal(err)
	}
	if err := n4.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
	defer lcancel()
	if err := WaitFor(lctx, func() error { return listed(false) }); err != nil {
		t.Fatalf("SIGTERM with --leave-on-terminate did not leave: %v", err)
	}
}
