package testnet

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// SessionWorkloadName tags the session workload's operations.
const SessionWorkloadName = "sessions"

// Session operation kinds.
const (
	SessCreate = "create"
	SessVerify = "verify"
	SessRevoke = "revoke"
	SessBan    = "ban"
)

// SessionWorkload issues player sessions for fresh players on the
// worker's node, verifies them on another node, revokes some and bans
// some of their players. Issuing and verifying are local to a node (not
// Raft operations) and verify is a stale read of the node's replica, so
// its answers during faults are not held to a model: SessionChecker
// judges every session on every node after the heal, and reports how
// stale the answers during the run were.
type SessionWorkload struct {
	Tenant string

	mu       sync.Mutex
	seq      int
	sessions []SessionRef
}

// SessionRef is an issued session.
type SessionRef struct {
	ID, Player, Token string
}

// SessionInput is what a session operation asked.
type SessionInput struct {
	Kind    string `json:"kind"`
	Player  string `json:"player"`
	Session string `json:"session,omitempty"`
	// On is the node a verify asked (not the worker's own).
	On string `json:"on,omitempty"`
}

// SessionOutput is what came back: Outcome as for ban writes; Reason is a
// verify's answer (ok, expired, revoked, banned, invalid).
type SessionOutput struct {
	Outcome string `json:"outcome"`
	Session string `json:"session,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Name implements Generator.
func (s *SessionWorkload) Name() string { return SessionWorkloadName }

// Model implements Generator: verify is a stale local read, so the
// session operations are not linearizable and SessionChecker judges them.
func (s *SessionWorkload) Model() *porcupine.Model { return nil }

// Setup creates the tenant and waits until every node has it.
func (s *SessionWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	return setupTenant(ctx, t, s.Tenant)
}

// Sessions returns every issued session.
func (s *SessionWorkload) Sessions() []SessionRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SessionRef(nil), s.sessions...)
}

// Step implements Generator: 35 % creates, 40 % verifies, 15 % revokes,
// 10 % bans. Until a session has been issued, it creates.
func (s *SessionWorkload) Step(ctx context.Context, w *Worker) {
	s.mu.Lock()
	n := len(s.sessions)
	var ref SessionRef
	if n > 0 {
		ref = s.sessions[w.Rand.IntN(n)]
	}
	s.mu.Unlock()
	r := w.Rand.IntN(100)
	switch {
	case n == 0 || r < 35:
		s.create(ctx, w)
	case r < 75:
		s.verify(ctx, w, ref)
	case r < 90:
		s.write(ctx, w, SessionInput{Kind: SessRevoke, Player: ref.Player, Session: ref.ID},
			http.MethodDelete, "/v1/tenants/"+s.Tenant+"/sessions/"+ref.ID, nil)
	default:
		s.write(ctx, w, SessionInput{Kind: SessBan, Player: ref.Player, Session: ref.ID},
			http.MethodPost, "/v1/tenants/"+s.Tenant+"/bans",
			map[string]any{"player_id": ref.Player, "reason": "chaos", "duration_seconds": 86400})
	}
}

func (s *SessionWorkload) do(ctx context.Context, w *Worker, addr, method, path string, body any) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
	defer cancel()
	return w.Target.Client.Do(ctx, method, addr, path, body)
}

func (s *SessionWorkload) create(ctx context.Context, w *Worker) {
	s.mu.Lock()
	s.seq++
	player := fmt.Sprintf("s%d-p%d", w.ID, s.seq)
	s.mu.Unlock()
	call := w.Now()
	resp, err := s.do(ctx, w, w.Node().HTTPAddr(), http.MethodPost, "/v1/tenants/"+s.Tenant+"/sessions",
		map[string]any{"player_id": player})
	outcome, detail := writeOutcome(resp, err)
	out := SessionOutput{Outcome: outcome}
	var ref SessionRef
	if outcome == OutOK {
		var a struct {
			SessionID string `json:"session_id"`
			Token     string `json:"token"`
		}
		if resp.JSON(&a) != nil || a.SessionID == "" || a.Token == "" {
			out.Outcome, detail = OutUnknown, "issued without a session"
		} else {
			out.Session, ref = a.SessionID, SessionRef{a.SessionID, player, a.Token}
		}
	}
	// Issuing writes nothing: an unknown issue is simply a token we never
	// saw, so it is not indeterminate in etcd's sense.
	w.Record(Entry{Workload: SessionWorkloadName, Input: SessionInput{Kind: SessCreate, Player: player},
		Output: out, Call: call, Detail: detail})
	if out.Outcome == OutOK {
		s.mu.Lock()
		s.sessions = append(s.sessions, ref)
		s.mu.Unlock()
	}
}

// verify asks a node other than the worker's (when there is one).
func (s *SessionWorkload) verify(ctx context.Context, w *Worker, ref SessionRef) {
	node := w.Node()
	if nodes := w.Target.Nodes(); len(nodes) > 1 {
		for node == w.Node() {
			node = nodes[w.Rand.IntN(len(nodes))]
		}
	}
	call := w.Now()
	resp, err := s.do(ctx, w, node.HTTPAddr(), http.MethodPost, "/v1/sessions/verify", map[string]string{"token": ref.Token})
	var v struct {
		Valid  bool   `json:"valid"`
		Reason string `json:"reason"`
	}
	if err != nil || resp.Status != http.StatusOK || resp.JSON(&v) != nil {
		w.Drop(SessionWorkloadName)
		return
	}
	w.Record(Entry{Workload: SessionWorkloadName, Input: SessionInput{Kind: SessVerify, Player: ref.Player, Session: ref.ID, On: node.Name},
		Output: SessionOutput{Outcome: OutOK, Session: ref.ID, Reason: v.Reason}, Call: call})
}

func (s *SessionWorkload) write(ctx context.Context, w *Worker, in SessionInput, method, path string, body any) {
	call := w.Now()
	resp, err := s.do(ctx, w, w.Node().HTTPAddr(), method, path, body)
	outcome, detail := writeOutcome(resp, err)
	w.Record(Entry{Workload: SessionWorkloadName, Input: in, Output: SessionOutput{Outcome: outcome, Session: in.Session},
		Call: call, Indeterminate: outcome == OutUnknown, Detail: detail})
}

// SessionChecker judges the session workload after the heal and
// convergence, when every node holds the same state (same applied index
// and state hash), so a verify on any node is as good as a consistent
// read. Every issued session is verified on every node:
//
//   - a session whose revoke, or a ban of whose player, was acknowledged
//     must answer revoked or banned on every node (an acknowledged
//     revocation is never lost or undone);
//   - a session never revoked, of a player never banned (every attempt
//     failed definitely, or none was made), must answer ok on every node:
//     tokens are not spuriously rejected (they live 1 h, bans 24 h);
//   - where a revoke or ban is indeterminate, ok, revoked and banned are
//     all allowed;
//   - every node gives the same answer (they hold the same state).
//
// During the faults verify is a stale local read, so nothing about those
// answers is asserted; the summary reports how many verifies invoked
// after a revocation had been acknowledged still answered ok, and the
// longest such lag, as a measure of staleness.
type SessionChecker struct{}

// Name implements Checker.
func (SessionChecker) Name() string { return "sessions" }

// Check implements Checker.
func (c SessionChecker) Check(ctx context.Context, run *RunData) Result {
	var sw *SessionWorkload
	for _, g := range run.Generators {
		if s, ok := g.(*SessionWorkload); ok {
			sw = s
		}
	}
	if sw == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "not applicable: the session workload did not run"}
	}
	sessions := sw.Sessions()
	answers := make([]map[string]string, len(run.Nodes)) // per node: session -> reason or error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, n := range run.Nodes {
		answers[i] = map[string]string{}
		var mu sync.Mutex
		for _, ref := range sessions {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				ans := verifyOnce(ctx, run.Client, n, ref.Token)
				mu.Lock()
				answers[i][ref.ID] = ans
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return JudgeSessions(run.Ops, sessions, run.Nodes, answers)
}

func verifyOnce(ctx context.Context, cl *Client, n *Node, token string) string {
	var last string
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := cl.Do(rctx, http.MethodPost, n.HTTPAddr(), "/v1/sessions/verify", map[string]string{"token": token})
		cancel()
		var v struct {
			Reason string `json:"reason"`
		}
		switch {
		case err != nil:
			last = "error: " + ErrorClass(err)
		case resp.Status != http.StatusOK || resp.JSON(&v) != nil:
			last = fmt.Sprintf("error: HTTP %d", resp.Status)
		default:
			return v.Reason
		}
	}
	return last
}

// JudgeSessions applies SessionChecker's rules to the answers (per node,
// session id -> reason) collected after the heal.
func JudgeSessions(ops []Entry, sessions []SessionRef, nodes []*Node, answers []map[string]string) Result {
	res := Result{Checker: "sessions", Verdict: Pass}
	type fate struct {
		revoked, maybe bool
		revokedAt      int64 // earliest acknowledged revoke/ban return
	}
	bySession := map[string]*fate{}
	byPlayer := map[string]*fate{}
	get := func(m map[string]*fate, k string) *fate {
		if m[k] == nil {
			m[k] = &fate{revokedAt: -1}
		}
		return m[k]
	}
	for _, op := range ops {
		in, ok1 := op.Input.(SessionInput)
		out, ok2 := op.Output.(SessionOutput)
		if !ok1 || !ok2 || (in.Kind != SessRevoke && in.Kind != SessBan) {
			continue
		}
		f := get(bySession, in.Session)
		if in.Kind == SessBan {
			f = get(byPlayer, in.Player)
		}
		switch out.Outcome {
		case OutOK:
			f.revoked = true
			if f.revokedAt < 0 || op.Return < f.revokedAt {
				f.revokedAt = op.Return
			}
		case OutFail:
		default: // unknown, or a rejection we cannot explain: allow both
			f.maybe = true
		}
	}
	// Staleness during the run: verifies invoked after an acknowledged
	// revocation that still said ok.
	playerOf := map[string]string{}
	for _, s := range sessions {
		playerOf[s.ID] = s.Player
	}
	var stale int
	var lag time.Duration
	counts := map[string]int{}
	for _, op := range ops {
		in, ok1 := op.Input.(SessionInput)
		out, ok2 := op.Output.(SessionOutput)
		if !ok1 || !ok2 || in.Kind != SessVerify {
			continue
		}
		counts[out.Reason]++
		at := int64(-1)
		for _, f := range []*fate{bySession[in.Session], byPlayer[in.Player]} {
			if f != nil && f.revokedAt >= 0 && (at < 0 || f.revokedAt < at) {
				at = f.revokedAt
			}
		}
		if at >= 0 && op.Call > at && out.Reason == "ok" {
			stale++
			lag = max(lag, time.Duration(op.Call-at))
		}
	}
	var bad []string
	checked := 0
	for _, s := range sessions {
		sf, pf := bySession[s.ID], byPlayer[s.Player]
		revoked := (sf != nil && sf.revoked) || (pf != nil && pf.revoked)
		maybe := (sf != nil && sf.maybe) || (pf != nil && pf.maybe)
		allowed := map[string]bool{}
		switch {
		case revoked:
			allowed["revoked"], allowed["banned"] = true, true
		case maybe:
			allowed["ok"], allowed["revoked"], allowed["banned"] = true, true, true
		default:
			allowed["ok"] = true
		}
		first := ""
		for i, n := range nodes {
			ans := answers[i][s.ID]
			checked++
			if i == 0 {
				first = ans
			}
			switch {
			case !allowed[ans]:
				bad = append(bad, fmt.Sprintf("%s: session %s of %s answered %q, want one of %v (revoked %v, indeterminate %v)",
					n.Name, s.ID, s.Player, ans, sortedKeys(allowed), revoked, maybe))
			case ans != first:
				bad = append(bad, fmt.Sprintf("%s: session %s of %s answered %q, %s answered %q: converged nodes disagree",
					n.Name, s.ID, s.Player, ans, nodes[0].Name, first))
			}
		}
	}
	if len(sessions) == 0 {
		return Result{Checker: "sessions", Verdict: NotApplicable, Summary: "not applicable: no session was issued"}
	}
	if len(bad) > 0 {
		res.Verdict = Fail
		sort.Strings(bad)
		res.Details = bad[:min(len(bad), 40)]
	}
	var rs []string
	for _, k := range sortedKeys(counts) {
		rs = append(rs, fmt.Sprintf("%s %d", k, counts[k]))
	}
	res.Summary = fmt.Sprintf("%d sessions x %d nodes verified after the heal: %d wrong; during the run verify answered %s; %d verifies invoked after an acknowledged revoke/ban still said ok (stale reads, allowed; longest lag %s)",
		len(sessions), len(nodes), len(bad), strings.Join(rs, ", "), stale, lag.Round(time.Millisecond))
	return res
}
