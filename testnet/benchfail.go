package testnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FailurePhase is the failure-detection phase of Benchmark: the last node
// is killed with SIGKILL Kills times, and each time the first node's
// /v1/members is polled until it says failed.
type FailurePhase struct {
	Kills    int       `json:"kills"`
	Seconds  []float64 `json:"seconds"`
	MedianS  float64   `json:"median_s"`
	MaxS     float64   `json:"max_s"`
	Failures int       `json:"not_detected"`
}

// benchFailureDetection kills nodes[len-1] kills times, measuring how long
// nodes[0] takes to report it failed, and restarts it after each kill.
func benchFailureDetection(ctx context.Context, progress io.Writer, cl *Client, nodes []*Node, kills int) (FailurePhase, error) {
	res := FailurePhase{Kills: kills}
	victim, observer := nodes[len(nodes)-1], nodes[0]
	for i := range kills {
		if err := waitMemberStatus(ctx, cl, observer, victim.Name, "alive", 60*time.Second); err != nil {
			return res, fmt.Errorf("kill %d: %s not alive before the kill: %w", i+1, victim.Name, err)
		}
		time.Sleep(2 * time.Second) // settle: probes of the new incarnation
		start := time.Now()
		if err := victim.Kill(); err != nil {
			return res, err
		}
		if err := waitMemberStatus(ctx, cl, observer, victim.Name, "failed", 30*time.Second); err != nil {
			res.Failures++
		} else {
			d := time.Since(start).Seconds()
			res.Seconds = append(res.Seconds, d)
			fmt.Fprintf(progress, "bench: kill -9 %d/%d of %s: failed after %.2f s\n", i+1, kills, victim.Name, d)
		}
		if err := victim.Restart(); err != nil {
			return res, err
		}
	}
	if err := waitMemberStatus(ctx, cl, observer, victim.Name, "alive", 60*time.Second); err != nil {
		return res, err
	}
	if len(res.Seconds) > 0 {
		s := slices.Sorted(slices.Values(res.Seconds))
		res.MedianS, res.MaxS = s[len(s)/2], s[len(s)-1]
		if len(s)%2 == 0 {
			res.MedianS = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}
	return res, nil
}

// waitMemberStatus polls n's /v1/members every 20 ms until member has
// status.
func waitMemberStatus(ctx context.Context, cl *Client, n *Node, member, status string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		r, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/members", nil)
		if err == nil && r.Status == http.StatusOK {
			var body struct {
				Members []struct {
					Name   string `json:"name"`
					Status string `json:"status"`
				} `json:"members"`
			}
			if r.JSON(&body) == nil {
				for _, m := range body.Members {
					if m.Name == member && m.Status == status {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never %s on %s: %w", member, status, n.Name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// suspicions sums cassnet_mesh_suspicions_total over nodes.
func suspicions(ctx context.Context, nodes []*Node) (int, error) {
	vals, err := nodeMetric(ctx, nodes, "cassnet_mesh_suspicions_total")
	total := 0
	for _, v := range vals {
		total += int(v)
	}
	return total, err
}

// maxTerm is the highest cassnet_raft_term over nodes: it moves only
// when some node stood for election.
func maxTerm(ctx context.Context, nodes []*Node) (int, error) {
	vals, err := nodeMetric(ctx, nodes, "cassnet_raft_term")
	m := 0
	for _, v := range vals {
		m = max(m, int(v))
	}
	return m, err
}

// nodeMetric reads one unlabelled metric from every node's /metrics.
func nodeMetric(ctx context.Context, nodes []*Node, name string) ([]float64, error) {
	var out []float64
	for _, n := range nodes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+"/metrics", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					return nil, err
				}
				out = append(out, f)
			}
		}
	}
	return out, nil
}
