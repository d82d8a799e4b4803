package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// PluginChecker judges the plugins workload after convergence:
//   - every node serves, for each plugin, the outcome of the last
//     acknowledged upload or delete (by sha256), or of an operation whose
//     outcome is unknown (it may have landed at any time); an acknowledged
//     upload is never lost unless a later operation replaced it;
//   - likewise the policy's config: the last acknowledged config, or an
//     unknown one;
//   - a ban the policy refuses (a short reason) never appears on any
//     node, whatever its outcome; an acknowledged ban is on every node;
//   - a short-reason ban is never acknowledged, and a 422 refusal of
//     one is the plugin's (rejected_by_plugin), not another validation.
type PluginChecker struct{}

// Name implements Checker.
func (*PluginChecker) Name() string { return "plugins" }

// PluginRead is what one node answered for one plugin.
type PluginRead struct {
	Exists bool   `json:"exists"`
	SHA256 string `json:"sha256,omitempty"`
	Config string `json:"config,omitempty"`
	Error  string `json:"error,omitempty"`
}

// PluginJudge is the checker's pure part, for tests on hand-made
// histories.
type PluginJudge struct {
	Ops []Entry
	// Plugins: node -> plugin -> what the node answered.
	Plugins map[string]map[string]PluginRead
	// Banned: node -> player -> whether the node holds a ban of them
	// (absent: the read failed).
	Banned map[string]map[string]bool
}

// Players returns every player the history bans.
func (j PluginJudge) Players() []string {
	var ps []string
	for _, e := range j.Ops {
		if in, _ := e.Input.(PluginInput); e.Workload == PluginWorkloadName && in.Op == PluginBan {
			ps = append(ps, in.Player)
		}
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// pluginState is what a mutation leaves: the plugin present with a
// sha256, or absent ("").
type pluginState struct {
	exists bool
	sha    string
}

func (s pluginState) String() string {
	if !s.exists {
		return "absent"
	}
	return "sha256 " + short(s.sha)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Judge applies the rules.
func (j PluginJudge) Judge() Result {
	res := Result{Checker: "plugins", Verdict: Pass}
	fail := func(format string, args ...any) {
		res.Verdict = Fail
		if len(res.Details) < 20 {
			res.Details = append(res.Details, fmt.Sprintf(format, args...))
		}
	}
	ops := slices.Clone(j.Ops)
	slices.SortStableFunc(ops, func(a, b Entry) int { return compareInt64(a.Call, b.Call) })
	// Per plugin: the last acknowledged state and the possible others.
	last := map[string]*pluginState{}
	maybe := map[string][]pluginState{}
	var lastConfig *string
	var maybeConfig []string
	acked, refused, n := map[string]bool{}, 0, 0
	var shortBans []string
	for _, e := range ops {
		if e.Workload != PluginWorkloadName {
			continue
		}
		n++
		in, _ := e.Input.(PluginInput)
		out, _ := e.Output.(PluginOutput)
		ok, unknown := out.Outcome == OutOK, out.Outcome == OutUnknown
		switch in.Op {
		case PluginUpload, PluginDelete:
			st := pluginState{exists: in.Op == PluginUpload, sha: in.SHA256}
			if ok {
				last[in.Plugin] = &st
			} else if unknown {
				maybe[in.Plugin] = append(maybe[in.Plugin], st)
			}
		case PluginConfig:
			c := in.Config
			if ok {
				lastConfig = &c
			} else if unknown {
				maybeConfig = append(maybeConfig, c)
			}
		case PluginBan:
			if in.Short {
				shortBans = append(shortBans, in.Player)
				if ok {
					fail("ban of %s with a reason the policy refuses was acknowledged", in.Player)
				}
				if strings.HasPrefix(e.Detail, "HTTP 422") && out.Code != "rejected_by_plugin" {
					fail("ban of %s was refused (%s) but not by the plugin", in.Player, e.Detail)
				}
				if out.Code == "rejected_by_plugin" {
					refused++
				}
			} else if ok {
				acked[in.Player] = true
			}
		}
	}
	nodes := slices.Sorted(func(yield func(string) bool) {
		for n := range j.Plugins {
			if !yield(n) {
				return
			}
		}
	})
	for _, node := range nodes {
		reads := j.Plugins[node]
		for _, name := range []string{PluginPolicy, PluginExtra} {
			r := reads[name]
			if r.Error != "" {
				fail("%s: reading plugin %s failed: %s", node, name, r.Error)
				continue
			}
			got := pluginState{exists: r.Exists, sha: r.SHA256}
			if !r.Exists {
				got.sha = ""
			}
			allowed := slices.Clone(maybe[name])
			if l := last[name]; l != nil {
				allowed = append(allowed, *l)
			} else if name == PluginExtra {
				allowed = append(allowed, pluginState{}) // never acknowledged: may be absent
			} else if r.Exists {
				allowed = append(allowed, got) // the policy from Setup
			}
			if !slices.ContainsFunc(allowed, func(s pluginState) bool { return s.exists == got.exists && (!s.exists || s.sha == got.sha) }) {
				want := "absent"
				if l := last[name]; l != nil {
					want = l.String()
				}
				fail("%s serves plugin %s %s; the last acknowledged operation left %s (and no unknown one explains it)", node, name, got, want)
			}
		}
		if pol := reads[PluginPolicy]; pol.Error == "" && pol.Exists && lastConfig != nil {
			if !sameJSON(pol.Config, *lastConfig) && !slices.ContainsFunc(maybeConfig, func(c string) bool { return sameJSON(pol.Config, c) }) {
				fail("%s serves the policy's config %s; the last acknowledged config was %s", node, pol.Config, *lastConfig)
			}
		}
		banned := j.Banned[node]
		for _, p := range shortBans {
			if banned[p] {
				fail("ban of %s, whose reason the policy refuses, is on %s", p, node)
			}
		}
		for p := range acked {
			b, read := banned[p]
			switch {
			case !read:
				fail("the ban of %s could not be read on %s", p, node)
			case !b:
				fail("acknowledged ban of %s is missing on %s", p, node)
			}
		}
	}
	res.Summary = fmt.Sprintf("%d operations: %d bans acknowledged, %d refused by the policy; last policy %v, last extra %v",
		n, len(acked), refused, last[PluginPolicy], last[PluginExtra])
	if res.Verdict == Fail {
		res.Summary = "plugin state diverges from the acknowledged history; " + res.Summary
	}
	return res
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// Check implements Checker.
func (c *PluginChecker) Check(ctx context.Context, run *RunData) Result {
	var wl *PluginWorkload
	for _, g := range run.Generators {
		if p, ok := g.(*PluginWorkload); ok {
			wl = p
		}
	}
	if wl == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "the plugins workload did not run"}
	}
	j := PluginJudge{Ops: run.Ops, Plugins: map[string]map[string]PluginRead{}, Banned: map[string]map[string]bool{}}
	players := j.Players()
	for _, n := range run.Nodes {
		j.Plugins[n.Name] = map[string]PluginRead{}
		for _, name := range []string{PluginPolicy, PluginExtra} {
			j.Plugins[n.Name][name] = ReadPlugin(ctx, run.Client, n, wl.Tenant, name)
		}
		j.Banned[n.Name] = map[string]bool{}
		for _, p := range players {
			if b, ok := readBanned(ctx, run.Client, n, wl.Tenant, p); ok {
				j.Banned[n.Name][p] = b
			}
		}
	}
	return j.Judge()
}

// ReadPlugin reads a plugin's record from node n's own state.
func ReadPlugin(ctx context.Context, cl *Client, n *Node, tenant, name string) PluginRead {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/"+tenant+"/plugins/"+name+"?stale", nil)
	if err != nil {
		return PluginRead{Error: err.Error()}
	}
	switch resp.Status {
	case http.StatusNotFound:
		return PluginRead{}
	case http.StatusOK:
	default:
		return PluginRead{Error: fmt.Sprintf("HTTP %d", resp.Status)}
	}
	var p struct {
		SHA256 string          `json:"sha256"`
		Config json.RawMessage `json:"config"`
	}
	if err := resp.JSON(&p); err != nil {
		return PluginRead{Error: err.Error()}
	}
	return PluginRead{Exists: true, SHA256: p.SHA256, Config: string(p.Config)}
}

func readBanned(ctx context.Context, cl *Client, n *Node, tenant, player string) (bool, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/"+tenant+"/players/"+player+"/ban?stale", nil)
	if err != nil || resp.Status != http.StatusOK {
		return false, false
	}
	var bc struct {
		Banned bool `json:"banned"`
	}
	if resp.JSON(&bc) != nil {
		return false, false
	}
	return bc.Banned, true
}
