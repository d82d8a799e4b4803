package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// AllocWorkloadName tags the allocation workload's operations.
const AllocWorkloadName = "alloc"

// Allocation workload defaults.
const (
	// allocProject is the project every simulated server registers in.
	allocProject = "arena"
	// allocLabel is the label every simulated server carries and every
	// allocation selects.
	allocLabelKey, allocLabelValue = "mode", "chaos"
	// allocAttempts is how many nodes one match's allocation is tried on,
	// with the same idempotency key, before the matchmaker gives up.
	allocAttempts = 3
)

// AllocWorkload is issue 11's allocation workload. Simulated game servers
// (goroutines of the harness, gRPC clients of their node's
// GameServerService) register, ping Health and send Ready; matchmakers
// (the workload's workers) allocate over REST with a fresh idempotency key
// per match on the worker's node and, after an indeterminate answer, retry
// the same key on another node. A server told of its allocation plays a
// short match, then sends Ready again. Every allocation attempt is an
// Entry of the history; every return to ready is an AllocReturn.
//
// A simulated server learns of its allocation from the matchmaker that
// was answered (in-process, as a matchmaker hands a match its server), or
// by polling GET .../allocations?server_id= on its node when idle, which
// finds allocations whose every answer was lost.
type AllocWorkload struct {
	Tenant string
	// Servers is how many game servers register, spread round-robin over
	// the initial nodes (default 24).
	Servers int
	// MatchMin and MatchMax bound a match (default 300 ms to 1.5 s).
	MatchMin, MatchMax time.Duration

	target *WorkTarget
	mm     *Client // the matchmaker key's REST client
	gsKey  string  // the game-server key

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	seq     int
	sims    map[string]*simServer
	returns []AllocReturn
}

// AllocInput is what one allocation attempt asked.
type AllocInput struct {
	// Key is the match's idempotency key; Attempt counts from 0.
	Key     string `json:"key"`
	Attempt int    `json:"attempt"`
}

// AllocOutput is what came back: Outcome as for ban writes (ok for 201
// and 200), Code the error code (no_capacity), and for ok the allocation
// and its server. Replay is true for a 200 (the idempotency key's first
// answer).
type AllocOutput struct {
	Outcome    string `json:"outcome"`
	Code       string `json:"code,omitempty"`
	Allocation string `json:"allocation,omitempty"`
	Server     string `json:"server,omitempty"`
	Replay     bool   `json:"replay,omitempty"`
}

// AllocReturn is one return of a server to the pool: the time (on the
// history's clock) its game server first sent Ready for it, why (after
// registering, or after a match), the allocation that ended, and whether
// any attempt was acknowledged.
type AllocReturn struct {
	Server string `json:"server"`
	At     int64  `json:"at_ns"`
	Node   string `json:"node"`
	Why    string `json:"why"`
	After  string `json:"after,omitempty"`
	Acked  bool   `json:"acked"`
}

// Name implements Generator.
func (a *AllocWorkload) Name() string { return AllocWorkloadName }

// Model implements Generator: AllocChecker judges allocations.
func (a *AllocWorkload) Model() *porcupine.Model { return nil }

// Setup creates the tenant, its project and two API keys (game-server and
// matchmaker), starts the simulated servers and waits until the
// replicated state holds every one of them ready.
func (a *AllocWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	if a.Servers <= 0 {
		a.Servers = 24
	}
	if a.MatchMin <= 0 {
		a.MatchMin = 300 * time.Millisecond
	}
	if a.MatchMax <= a.MatchMin {
		a.MatchMax = a.MatchMin + 1200*time.Millisecond
	}
	a.target = t
	if err := setupTenant(ctx, t, a.Tenant); err != nil {
		return err
	}
	nodes := t.Nodes()
	base := "/v1/tenants/" + a.Tenant
	if err := setupCreate(ctx, t.Client, nodes[0].HTTPAddr(), base+"/projects", map[string]string{"name": allocProject}); err != nil {
		return fmt.Errorf("alloc: create project: %w", err)
	}
	var err error
	if a.gsKey, err = newAPIKey(ctx, t.Client, nodes[0].HTTPAddr(), a.Tenant, "chaos-game-servers", "game-server"); err != nil {
		return err
	}
	mmKey, err := newAPIKey(ctx, t.Client, nodes[0].HTTPAddr(), a.Tenant, "chaos-matchmaker", "matchmaker")
	if err != nil {
		return err
	}
	a.mm = &Client{Token: mmKey, HTTP: t.Client.HTTP}
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	a.sims = make(map[string]*simServer, a.Servers)
	for i := range a.Servers {
		s := &simServer{w: a, id: fmt.Sprintf("gs-%02d", i), node: nodes[i%len(nodes)],
			notify: make(chan string, 64), played: map[string]bool{}}
		a.sims[s.id] = s
		a.wg.Go(func() { s.run(a.ctx) })
	}
	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	err = WaitFor(wctx, func() error {
		var sum struct {
			ByState map[string]int `json:"by_state"`
		}
		resp, err := a.mm.Do(wctx, http.MethodGet, nodes[0].HTTPAddr(), base+"/projects/"+allocProject+"/servers/summary", nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("summary: HTTP %d %s", resp.Status, resp.Body)
		}
		if err := resp.JSON(&sum); err != nil {
			return err
		}
		if sum.ByState["ready"] < a.Servers {
			return fmt.Errorf("%d of %d servers ready in the replicated state (by state: %v)", sum.ByState["ready"], a.Servers, sum.ByState)
		}
		return nil
	})
	if err != nil {
		a.Stop()
		return fmt.Errorf("alloc: servers registered over gRPC never became ready in the replicated state "+
			"(does this build's gameserver.Register/Ready propose RegisterServer/SetServerState?): %w", err)
	}
	return nil
}

// Stop stops the simulated servers and waits for them. Returns recorded
// so far are kept.
func (a *AllocWorkload) Stop() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// Returns is every return to ready recorded so far.
func (a *AllocWorkload) Returns() []AllocReturn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AllocReturn(nil), a.returns...)
}

func (a *AllocWorkload) addReturn(r AllocReturn) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.returns = append(a.returns, r)
	return len(a.returns) - 1
}

func (a *AllocWorkload) ackReturn(i int) {
	a.mu.Lock()
	a.returns[i].Acked = true
	a.mu.Unlock()
}

// Step implements Generator: one match's allocation, tried on up to
// allocAttempts nodes with one idempotency key. A definite answer (201,
// 200, 409 no_capacity, 4xx) ends it; an indeterminate one or a refused
// connection moves to another node.
func (a *AllocWorkload) Step(ctx context.Context, w *Worker) {
	a.mu.Lock()
	a.seq++
	key := fmt.Sprintf("w%d-m%d", w.ID, a.seq)
	a.mu.Unlock()
	strategy := "packed"
	if w.Rand.IntN(2) == 0 {
		strategy = "distributed"
	}
	body := map[string]any{
		"project_id":      allocProject,
		"selectors":       []map[string]any{{"labels": map[string]string{allocLabelKey: allocLabelValue}, "state": "ready"}},
		"strategy":        strategy,
		"metadata":        map[string]any{"labels": map[string]string{"match": key}},
		"idempotency_key": key,
	}
	for attempt := range allocAttempts {
		if ctx.Err() != nil {
			return
		}
		prev := w.Node()
		call := w.Now()
		octx, cancel := context.WithTimeout(ctx, w.Target.OpTimeout)
		resp, err := a.mm.Do(octx, http.MethodPost, prev.HTTPAddr(), "/v1/tenants/"+a.Tenant+"/allocations", body)
		cancel()
		out, detail := allocOutcome(resp, err)
		w.Record(Entry{Workload: AllocWorkloadName, Input: AllocInput{Key: key, Attempt: attempt},
			Output: out, Call: call, Indeterminate: out.Outcome == OutUnknown, Detail: detail})
		switch out.Outcome {
		case OutOK:
			if s := a.sims[out.Server]; s != nil {
				s.tell(out.Allocation)
			}
			return
		case OutConflict:
			sleepCtx(ctx, time.Duration(50+w.Rand.IntN(150))*time.Millisecond) // the pool is empty
			return
		case OutUnknown, OutFail:
			if out.Outcome == OutFail && !strings.Contains(detail, "dial") && !strings.Contains(detail, "no_leader") {
				return // 400: retrying would not help
			}
			moveOff(w, prev)
		default:
			return
		}
	}
}

// moveOff rebinds w to a node other than prev, if there is one.
func moveOff(w *Worker, prev *Node) {
	for range 8 {
		if w.Node() != prev {
			return
		}
		w.rebind()
	}
}

// allocOutcome classifies an allocation answer as writeOutcome does and
// reads the allocation from an acknowledged one.
func allocOutcome(resp *Response, err error) (AllocOutput, string) {
	outcome, detail := writeOutcome(resp, err)
	out := AllocOutput{Outcome: outcome}
	if resp == nil {
		return out, detail
	}
	if outcome != OutOK {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(resp.Body, &e)
		out.Code = e.Error.Code
		return out, detail
	}
	var a struct {
		ID     string `json:"allocation_id"`
		Server string `json:"server_id"`
	}
	if resp.JSON(&a) != nil || a.ID == "" || a.Server == "" {
		return AllocOutput{Outcome: OutUnknown}, "acknowledged without an allocation"
	}
	out.Allocation, out.Server, out.Replay = a.ID, a.Server, resp.Status == http.StatusOK
	return out, ""
}

// newAPIKey creates a tenant API key and returns its secret.
func newAPIKey(ctx context.Context, cl *Client, addr, tenant, name, role string) (string, error) {
	resp, err := cl.Do(ctx, http.MethodPost, addr, "/v1/tenants/"+tenant+"/keys", map[string]string{"name": name, "role": role})
	if err != nil {
		return "", fmt.Errorf("create %s key: %w", role, err)
	}
	var k struct {
		Key string `json:"key"`
	}
	if resp.Status != http.StatusCreated || resp.JSON(&k) != nil || k.Key == "" {
		return "", fmt.Errorf("create %s key: HTTP %d %s", role, resp.Status, resp.Body)
	}
	return k.Key, nil
}

// setupCreate POSTs body and accepts 201 or 409 (made by an earlier try).
func setupCreate(ctx context.Context, cl *Client, addr, path string, body any) error {
	resp, err := cl.Do(ctx, http.MethodPost, addr, path, body)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusCreated && resp.Status != http.StatusConflict {
		return &StatusError{Status: resp.Status, Body: string(resp.Body)}
	}
	return nil
}
