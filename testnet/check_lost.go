package testnet

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// LostWriteChecker reads every node's bans with ?stale after the heal
// (and after convergence) and checks that:
//   - every acknowledged create is present on every node;
//   - every ban whose revoke was acknowledged (200, or 409 "already
//     revoked") is revoked on every node;
//   - no ban exists for a player whose create failed definitely (a write
//     the API said did not happen must not appear).
type LostWriteChecker struct{}

// Name implements Checker.
func (*LostWriteChecker) Name() string { return "lost-writes" }

// listedBan is the part of a ban the checker reads.
type listedBan struct {
	ID        string     `json:"id"`
	PlayerID  string     `json:"player_id"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Check implements Checker.
func (c *LostWriteChecker) Check(ctx context.Context, run *RunData) Result {
	res := Result{Checker: c.Name(), Verdict: Pass}
	acked := map[string]string{} // ban id -> player
	revoked := map[string]bool{} // ban ids with an acknowledged revoke
	failed := map[string]bool{}  // players whose create failed definitely
	creates := map[string]int{}  // creates per player, whatever their outcome
	for _, op := range run.Ops {
		in, ok1 := op.Input.(BanInput)
		out, ok2 := op.Output.(BanOutput)
		if !ok1 || !ok2 {
			continue
		}
		if in.Kind == BanCreate {
			creates[in.Player]++
		}
		switch {
		case in.Kind == BanCreate && out.Outcome == OutOK:
			acked[out.BanID] = in.Player
		case in.Kind == BanCreate && (out.Outcome == OutFail || out.Outcome == OutNotFound):
			failed[in.Player] = true
		case in.Kind == BanRevoke && (out.Outcome == OutOK || out.Outcome == OutConflict):
			revoked[in.BanID] = true
		}
	}
	if len(acked) == 0 && len(failed) == 0 {
		res.Verdict, res.Summary = NotApplicable, "no ban writes in the history"
		return res
	}
	// duplicated: a player with more bans than creates in the history
	// (an indeterminate write applied twice, by a retry inside the
	// cluster, say).
	var missing, unrevoked, phantom, duplicated int
	for _, n := range run.Nodes {
		bans, err := listBans(ctx, run.Client, n, run.Tenant)
		if err != nil {
			res.Verdict = Fail
			res.Details = append(res.Details, fmt.Sprintf("%s: cannot list bans: %v", n.Name, err))
			continue
		}
		byPlayer := map[string]int{}
		for _, b := range bans {
			byPlayer[b.PlayerID]++
		}
		for _, p := range sortedKeys(byPlayer) {
			if c, ok := creates[p]; ok && byPlayer[p] > c {
				duplicated++
				res.Details = appendCapped(res.Details, fmt.Sprintf("%s: player %s has %d bans from %d creates", n.Name, p, byPlayer[p], c))
			}
		}
		for _, id := range sortedKeys(acked) {
			b, ok := bans[id]
			switch {
			case !ok:
				missing++
				res.Details = appendCapped(res.Details, fmt.Sprintf("%s: acknowledged ban %s (player %s) is missing", n.Name, id, acked[id]))
			case revoked[id] && b.RevokedAt == nil:
				unrevoked++
				res.Details = appendCapped(res.Details, fmt.Sprintf("%s: ban %s (player %s) had its revoke acknowledged but is not revoked", n.Name, id, acked[id]))
			}
		}
		for _, p := range sortedKeys(failed) {
			if byPlayer[p] > 0 {
				phantom++
				res.Details = appendCapped(res.Details, fmt.Sprintf("%s: player %s is banned although the create failed definitely", n.Name, p))
			}
		}
	}
	if missing+unrevoked+phantom+duplicated > 0 {
		res.Verdict = Fail
	}
	res.Summary = fmt.Sprintf("%d acknowledged bans, %d acknowledged revokes, %d definite failures on %d nodes: %d lost, %d revokes lost, %d phantom, %d duplicated",
		len(acked), len(revoked), len(failed), len(run.Nodes), missing, unrevoked, phantom, duplicated)
	return res
}

// listBans reads every ban of tenant on n with ?stale, by id.
func listBans(ctx context.Context, cl *Client, n *Node, tenant string) (map[string]listedBan, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/"+tenant+"/bans?stale", nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("list bans: %d %s", resp.Status, resp.Body)
	}
	var body struct {
		Bans []listedBan `json:"bans"`
	}
	if err := resp.JSON(&body); err != nil {
		return nil, err
	}
	out := make(map[string]listedBan, len(body.Bans))
	for _, b := range body.Bans {
		out[b.ID] = b
	}
	return out, nil
}

// maxDetails caps a result's evidence lines.
const maxDetails = 20

func appendCapped(ds []string, d string) []string {
	switch {
	case len(ds) < maxDetails:
		return append(ds, d)
	case len(ds) == maxDetails:
		return append(ds, "... (more omitted)")
	}
	return ds
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
