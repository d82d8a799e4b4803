package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// UGCChecker judges the UGC workload after convergence:
//   - no lost acknowledged write: every acknowledged item that no delete
//     may have removed is on every node; every acknowledged delete's item
//     is on none; every acknowledged upload is a published version with
//     its sha256 on every node;
//   - every published version any node lists (also those of uploads whose
//     outcome was unknown) downloads with its sha256.
type UGCChecker struct{}

// Name implements Checker.
func (*UGCChecker) Name() string { return "ugc" }

// UGCItemRead is what one node answered for one item: whether it holds
// it, and its versions by id with their state and sha256.
type UGCItemRead struct {
	Exists   bool                  `json:"exists"`
	Versions map[string]UGCVerRead `json:"versions,omitempty"`
	Error    string                `json:"error,omitempty"`
}

// UGCVerRead is one version as a node lists it.
type UGCVerRead struct {
	State  string `json:"state"`
	SHA256 string `json:"sha256"`
}

// UGCJudge is the checker's pure part, for tests on hand-made histories.
type UGCJudge struct {
	Ops []Entry
	// Reads: node -> item -> what the node answered.
	Reads map[string]map[string]UGCItemRead
	// Downloads: version id -> sha256 of the bytes downloaded (or an
	// error text starting with "error:").
	Downloads map[string]string
}

// Items returns every item the history names (created or acted on).
func (j UGCJudge) Items() []string {
	seen := map[string]bool{}
	for _, e := range j.Ops {
		in, _ := e.Input.(UGCInput)
		out, _ := e.Output.(UGCOutput)
		for _, id := range []string{in.Item, out.Item} {
			if id != "" {
				seen[id] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for id := range seen {
			if !yield(id) {
				return
			}
		}
	})
}

// Judge applies the rules.
func (j UGCJudge) Judge() Result {
	res := Result{Checker: "ugc", Verdict: Pass}
	fail := func(format string, args ...any) {
		res.Verdict = Fail
		if len(res.Details) < 20 {
			res.Details = append(res.Details, fmt.Sprintf(format, args...))
		}
	}
	created, maybeDeleted, deleted := map[string]bool{}, map[string]bool{}, map[string]bool{}
	type upload struct{ item, version, sha string }
	var uploads []upload
	n := 0
	for _, e := range j.Ops {
		if e.Workload != UGCWorkloadName {
			continue
		}
		n++
		in, _ := e.Input.(UGCInput)
		out, _ := e.Output.(UGCOutput)
		switch in.Op {
		case UGCCreate:
			if out.Outcome == OutOK {
				created[out.Item] = true
			}
		case UGCDelete:
			if out.Outcome == OutOK || out.Outcome == OutUnknown {
				maybeDeleted[in.Item] = true
			}
			if out.Outcome == OutOK {
				deleted[in.Item] = true
			}
		case UGCUpload:
			if out.Outcome == OutOK {
				uploads = append(uploads, upload{in.Item, in.Version, in.SHA256})
			}
		}
	}
	nodes := slices.Sorted(func(yield func(string) bool) {
		for n := range j.Reads {
			if !yield(n) {
				return
			}
		}
	})
	for _, node := range nodes {
		reads := j.Reads[node]
		for id := range created {
			if r := reads[id]; !maybeDeleted[id] && !r.Exists {
				fail("acknowledged item %s is missing on %s %s", id, node, r.Error)
			}
		}
		for id := range deleted {
			if reads[id].Exists {
				fail("item %s, deleted with an acknowledgement, is still on %s", id, node)
			}
		}
		for _, u := range uploads {
			if maybeDeleted[u.item] {
				continue
			}
			v, ok := reads[u.item].Versions[u.version]
			switch {
			case !ok:
				fail("acknowledged upload %s of item %s is not listed on %s", u.version, u.item, node)
			case v.State != "published":
				fail("acknowledged upload %s of item %s is %s on %s", u.version, u.item, v.State, node)
			case v.SHA256 != u.sha:
				fail("upload %s has sha256 %s on %s, the client sent %s", u.version, v.SHA256, node, u.sha)
			}
		}
		for id, r := range reads {
			for vid, v := range r.Versions {
				if v.State != "published" {
					continue
				}
				got, ok := j.Downloads[vid]
				switch {
				case !ok:
					fail("published version %s of item %s (on %s) was not downloaded", vid, id, node)
				case got != v.SHA256:
					fail("published version %s of item %s downloads as %s, want %s", vid, id, got, v.SHA256)
				}
			}
		}
	}
	res.Summary = fmt.Sprintf("%d operations: %d items acknowledged, %d deletes acknowledged, %d uploads acknowledged, %d versions downloaded",
		n, len(created), len(deleted), len(uploads), len(j.Downloads))
	if res.Verdict == Fail {
		res.Summary = "lost or broken UGC writes; " + res.Summary
	}
	return res
}

// Check implements Checker.
func (c *UGCChecker) Check(ctx context.Context, run *RunData) Result {
	var wl *UGCWorkload
	for _, g := range run.Generators {
		if u, ok := g.(*UGCWorkload); ok {
			wl = u
		}
	}
	if wl == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "the UGC workload did not run"}
	}
	j := UGCJudge{Ops: run.Ops, Reads: map[string]map[string]UGCItemRead{}, Downloads: map[string]string{}}
	items := j.Items()
	for _, n := range run.Nodes {
		j.Reads[n.Name] = map[string]UGCItemRead{}
		for _, id := range items {
			j.Reads[n.Name][id] = readUGCItem(ctx, run.Client, n, wl, id)
		}
	}
	// Download each published version once, through a different node each
	// time (the bytes may be held by another one).
	i := 0
	for _, n := range run.Nodes {
		for id, r := range j.Reads[n.Name] {
			for vid, v := range r.Versions {
				if _, done := j.Downloads[vid]; done || v.State != "published" {
					continue
				}
				via := run.Nodes[i%len(run.Nodes)]
				i++
				j.Downloads[vid] = downloadUGC(ctx, run.Client, via, wl, id, vid)
			}
		}
	}
	return j.Judge()
}

func readUGCItem(ctx context.Context, cl *Client, n *Node, wl *UGCWorkload, id string) UGCItemRead {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), wl.base()+"/"+id+"/versions?stale", nil)
	if err != nil {
		return UGCItemRead{Error: err.Error()}
	}
	switch resp.Status {
	case http.StatusNotFound:
		return UGCItemRead{}
	case http.StatusOK:
	default:
		return UGCItemRead{Error: fmt.Sprintf("HTTP %d", resp.Status)}
	}
	var body struct {
		Versions []struct {
			ID     string `json:"id"`
			State  string `json:"state"`
			SHA256 string `json:"sha256"`
		} `json:"versions"`
	}
	if err := resp.JSON(&body); err != nil {
		return UGCItemRead{Error: err.Error()}
	}
	r := UGCItemRead{Exists: true, Versions: map[string]UGCVerRead{}}
	for _, v := range body.Versions {
		r.Versions[v.ID] = UGCVerRead{State: v.State, SHA256: v.SHA256}
	}
	return r
}

// downloadUGC follows a version's download redirect from n and returns
// the sha256 of the bytes, or "error: ...".
func downloadUGC(ctx context.Context, cl *Client, n *Node, wl *UGCWorkload, item, version string) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+wl.base()+"/"+item+"/versions/"+version+"/download", nil)
	if err != nil {
		return "error: " + err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	resp, err := cl.HTTP.Do(req) // follows the 302 to the signed URL
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("error: HTTP %d", resp.StatusCode)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}
