package testnet

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

type banBody struct {
	ID       string `json:"id"`
	PlayerID string `json:"player_id"`
}

type banCheck struct {
	Banned bool     `json:"banned"`
	Ban    *banBody `json:"ban"`
}

func others(nodes []*Node, not *Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

// mustWrite retries a write until it succeeds (through leader changes) or
// the deadline passes.
func mustWrite(t *testing.T, ctx context.Context, cl *Client, n *Node, path string, body any, want int) *Response {
	t.Helper()
	var resp *Response
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := WaitFor(wctx, func() error {
		r, err := cl.Do(wctx, http.MethodPost, n.HTTPAddr(), path, body)
		if err != nil {
			return err
		}
		if r.Status != want {
			return fmt.Errorf("POST %s on %s: %d %s", path, n.Name, r.Status, r.Body)
		}
		resp = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitBanned waits until every node answers the stale ban check for player
// with banned == want, and returns how long it took.
func waitBanned(t *testing.T, ctx context.Context, cl *Client, nodes []*Node, tenant, player string, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for _, nd := range nodes {
		err := WaitFor(wctx, func() error {
			r, err := cl.Do(wctx, http.MethodGet, nd.HTTPAddr(), "/v1/tenants/"+tenant+"/players/"+player+"/ban?stale", nil)
			if err != nil {
				return err
			}
			var bc banCheck
			if err := r.JSON(&bc); err != nil {
				return err
			}
			if bc.Banned != want {
				return fmt.Errorf("%s: banned=%v, want %v", nd.Name, bc.Banned, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ban of %s not visible within %s: %v", player, within, err)
		}
	}
	return time.Since(start)
}

func TestClusterLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()

	// A write through a follower is visible with ?stale everywhere within 1 s.
	leader := leaderOf(t, ctx, cl, nodes)
	follower := others(nodes, leader)[0]
	mustWrite(t, ctx, cl, follower, "/v1/tenants", map[string]any{"name": "studio"}, http.StatusCreated)
	took := waitBanned(t, ctx, cl, nodes, "studio", "p1", false, 5*time.Second)
	_ = took
	r := mustWrite(t, ctx, cl, follower, "/v1/tenants/studio/bans", map[string]any{"player_id": "p1", "reason": "cheating"}, http.StatusCreated)
	var ban banBody
	if err := r.JSON(&ban); err != nil || ban.ID == "" || ban.PlayerID != "p1" {
		t.Fatalf("create ban answered %s (%v)", r.Body, err)
	}
	took = waitBanned(t, ctx, cl, nodes, "studio", "p1", true, time.Second)
	t.Logf("ban written through follower %s visible on all nodes after %s", follower.Name, took)

	// Kill the leader: a new one is elected and writes through the
	// survivors succeed.
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	survivors := others(nodes, leader)
	newLeader := leaderOf(t, ctx, cl, survivors)
	t.Logf("killed leader %s; new leader %s", leader.Name, newLeader.Name)
	for i, nd := range survivors {
		mustWrite(t, ctx, cl, nd, "/v1/tenants/studio/bans", map[string]any{"player_id": fmt.Sprintf("after-kill-%d", i), "reason": "x"}, http.StatusCreated)
	}
	// Enough writes to force snapshots and log compaction while it is down.
	for i := 0; i < 60; i++ {
		mustWrite(t, ctx, cl, survivors[i%2], "/v1/tenants/studio/bans", map[string]any{"player_id": fmt.Sprintf("bulk-%d", i), "reason": "x"}, http.StatusCreated)
	}

	// The killed node, restarted with only its data dir, catches up to an
	// identical state.
	if err := leader.Restart(); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, ctx, cl, nodes)
	waitBanned(t, ctx, cl, []*Node{leader}, "studio", "bulk-59", true, 5*time.Second)

	// A node that leaves gracefully disappears from the Raft configuration.
	cur := leaderOf(t, ctx, cl, nodes)
	leaving := others(nodes, cur)[0]
	info, err := cl.Raft(ctx, leaving)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaving.Leave(ctx, cl, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	rest := others(nodes, leaving)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	err = WaitFor(wctx, func() error {
		for _, nd := range rest {
			ri, err := cl.Raft(wctx, nd)
			if err != nil {
				return err
			}
			for _, s := range ri.Servers {
				if s.ID == info.ID {
					return fmt.Errorf("%s still lists %s (%s)", nd.Name, leaving.Name, s.Suffrage)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("left node still in the configuration: %v", err)
	}
	// And the rest still take writes.
	mustWrite(t, ctx, cl, rest[0], "/v1/tenants/studio/bans", map[string]any{"player_id": "after-leave", "reason": "x"}, http.StatusCreated)

	// The leader leaves gracefully too: it hands leadership to the last
	// node, which carries on alone.
	lastLeader := leaderOf(t, ctx, cl, rest)
	last := others(rest, lastLeader)[0]
	if err := lastLeader.Leave(ctx, cl, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(wctx, func() error {
		ri, err := cl.Raft(wctx, last)
		if err != nil {
			return err
		}
		if ri.State != "Leader" || len(ri.Servers) != 1 {
			return fmt.Errorf("%s is %s with %d servers", last.Name, ri.State, len(ri.Servers))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the leader left: %v", err)
	}
	mustWrite(t, ctx, cl, last, "/v1/tenants/studio/bans", map[string]any{"player_id": "alone", "reason": "x"}, http.StatusCreated)
}

// waitConverged waits until every node reports the same applied index and
// state hash.
func waitConverged(t *testing.T, ctx context.Context, cl *Client, nodes []*Node) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := WaitFor(wctx, func() error {
		var first RaftInfo
		for i, nd := range nodes {
			info, err := cl.Raft(wctx, nd)
			if err != nil {
				return err
			}
			if i == 0 {
				first = info
				continue
			}
			if info.AppliedIndex != first.AppliedIndex || info.StateHash != first.StateHash {
				return fmt.Errorf("%s at %d/%s, %s at %d/%s", nodes[0].Name, first.AppliedIndex, first.StateHash, nd.Name, info.AppliedIndex, info.StateHash)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("nodes did not converge: %v", err)
	}
}
