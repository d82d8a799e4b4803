package testnet

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestAutopilotReplacesFailedVoter: with four nodes and a target of three
// voters, killing a voter makes autopilot promote the spare non-voter and
// remove the dead server once the grace period has passed; the dead node,
// restarted, comes back as a non-voter.
func TestAutopilotReplacesFailedVoter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 4, 3)
	nodes := c.Nodes()

	leader := leaderOf(t, ctx, cl, nodes)
	info, err := cl.Raft(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]*Node{}
	for _, nd := range nodes {
		ri, err := cl.Raft(ctx, nd)
		if err != nil {
			t.Fatal(err)
		}
		ids[ri.ID] = nd
	}
	var victim, spare *Node
	var victimID string
	for _, s := range info.Servers {
		switch {
		case s.Suffrage == "nonvoter":
			spare = ids[s.ID]
		case s.ID != info.ID && victim == nil:
			victim, victimID = ids[s.ID], s.ID
		}
	}
	if victim == nil || spare == nil {
		t.Fatalf("want a follower voter and a non-voter, configuration: %+v", info.Servers)
	}
	start := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	rest := others(nodes, victim)
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	err = WaitFor(wctx, func() error {
		ri, err := cl.Raft(wctx, leader)
		if err != nil {
			return err
		}
		voters := 0
		for _, s := range ri.Servers {
			if s.ID == victimID {
				return fmt.Errorf("dead server %s still in the configuration as %s", victim.Name, s.Suffrage)
			}
			if s.Suffrage == "voter" {
				voters++
			}
		}
		if voters != 3 {
			return fmt.Errorf("%d voters, want 3", voters)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("autopilot did not replace %s: %v", victim.Name, err)
	}
	t.Logf("%s replaced by %s and removed %s after the kill (grace 8s)", victim.Name, spare.Name, time.Since(start).Round(100*time.Millisecond))
	mustWrite(t, ctx, cl, rest[0], "/v1/tenants", map[string]any{"name": "after-replace"}, 201)

	// The dead node comes back: it is re-added as a non-voter, and the
	// voter count stays at the target.
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(wctx, func() error {
		ri, err := cl.Raft(wctx, leader)
		if err != nil {
			return err
		}
		voters, back := 0, ""
		for _, s := range ri.Servers {
			if s.Suffrage == "voter" {
				voters++
			}
			if s.ID == victimID {
				back = s.Suffrage
			}
		}
		if back != "nonvoter" || voters != 3 {
			return fmt.Errorf("restarted node is %q with %d voters", back, voters)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, ctx, cl, nodes)
}
