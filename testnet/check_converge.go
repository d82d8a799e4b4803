package testnet

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ConvergenceChecker waits, for at most Within, until every node reports
// the same applied index and FSM state hash in GET /v1/cluster/raft, and
// every node's GET /v1/members lists every node as alive. It fails with
// the last difference it saw if that never happens.
type ConvergenceChecker struct {
	// Within bounds the wait (default 60 s).
	Within time.Duration
}

// Name implements Checker.
func (*ConvergenceChecker) Name() string { return "convergence" }

// Check implements Checker.
func (c *ConvergenceChecker) Check(ctx context.Context, run *RunData) Result {
	within := c.Within
	if within <= 0 {
		within = 60 * time.Second
	}
	res := Result{Checker: c.Name()}
	if len(run.Nodes) == 0 {
		res.Verdict, res.Summary = NotApplicable, "no nodes"
		return res
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last []RaftInfo
	err := WaitFor(wctx, func() error {
		infos, err := converged(wctx, run.Client, run.Nodes)
		last = infos
		return err
	})
	if err != nil {
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("not converged within %s: %v", within, err)
		for i, info := range last {
			res.Details = append(res.Details, fmt.Sprintf("%s: state=%s leader=%s term=%d applied=%d hash=%.12s",
				run.Nodes[i].Name, info.State, info.LeaderID, info.Term, info.AppliedIndex, info.StateHash))
		}
		return res
	}
	res.Verdict = Pass
	res.Summary = fmt.Sprintf("%d nodes at applied index %d, state hash %.12s, all members alive, after %s",
		len(run.Nodes), last[0].AppliedIndex, last[0].StateHash, time.Since(start).Round(100*time.Millisecond))
	res.Details = append(res.Details, "raft configuration: "+describeServers(last[0], run.Nodes, last))
	return res
}

// converged returns every node's raft info and an error describing the
// first difference, if any.
func converged(ctx context.Context, cl *Client, nodes []*Node) ([]RaftInfo, error) {
	infos := make([]RaftInfo, len(nodes))
	for i, n := range nodes {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		info, err := cl.Raft(rctx, n)
		cancel()
		if err != nil {
			return infos[:i], err
		}
		if info.StateHash == "" {
			// Equal empty hashes would pass the comparison below unseen.
			return infos[:i], fmt.Errorf("%s reports no state_hash in /v1/cluster/raft", n.Name)
		}
		infos[i] = info
	}
	for i, info := range infos[1:] {
		if info.AppliedIndex != infos[0].AppliedIndex || info.StateHash != infos[0].StateHash || info.StateVersion != infos[0].StateVersion {
			return infos, fmt.Errorf("%s at %d/%.12s, %s at %d/%.12s", nodes[0].Name, infos[0].AppliedIndex,
				infos[0].StateHash, nodes[i+1].Name, info.AppliedIndex, info.StateHash)
		}
	}
	for _, n := range nodes {
		if err := allAlive(ctx, cl, n, nodes); err != nil {
			return infos, err
		}
	}
	return infos, nil
}

// allAlive checks that n's GET /v1/members lists every node as alive.
func allAlive(ctx context.Context, cl *Client, n *Node, nodes []*Node) error {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := cl.Do(rctx, http.MethodGet, n.HTTPAddr(), "/v1/members", nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("%s: /v1/members: %d", n.Name, resp.Status)
	}
	var body struct {
		Members []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"members"`
	}
	if err := resp.JSON(&body); err != nil {
		return err
	}
	status := map[string]string{}
	for _, m := range body.Members {
		status[m.Name] = m.Status
	}
	for _, o := range nodes {
		if s := status[o.Name]; s != "alive" {
			return fmt.Errorf("%s sees %s as %q", n.Name, o.Name, s)
		}
	}
	return nil
}

// describeServers names the Raft servers of info by node name.
func describeServers(info RaftInfo, nodes []*Node, infos []RaftInfo) string {
	name := map[string]string{}
	for i, in := range infos {
		name[in.ID] = nodes[i].Name
	}
	var parts []string
	for _, s := range info.Servers {
		n := name[s.ID]
		if n == "" {
			n = s.ID
		}
		if s.ID == info.LeaderID {
			n += "*"
		}
		parts = append(parts, n+":"+s.Suffrage)
	}
	return strings.Join(parts, " ")
}
