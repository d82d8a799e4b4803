package testnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// WebhookWorkloadName names the optional webhook workload.
const WebhookWorkloadName = "webhooks"

// WebhookWorkload subscribes a receiver on the host to the ban workload's
// ban.created events (its revocations, not subscribed, must never
// arrive). It makes no requests of its own while the run goes on: the ban
// workload is its traffic. WebhookChecker judges what arrived. The agents
// need --webhook-allow-private and --webhook-allow-http (the receiver
// listens on a private address, in plain http); NewGenerators' callers add
// them (see webhookAgentArgs).
type WebhookWorkload struct {
	// Tenant is the ban workload's tenant.
	Tenant string

	recv *WebhookReceiver
	id   string
}

// Name implements Generator.
func (*WebhookWorkload) Name() string { return WebhookWorkloadName }

// Model implements Generator: not a linearizability workload.
func (*WebhookWorkload) Model() *porcupine.Model { return nil }

// Step implements Generator: nothing (the ban workload is the traffic).
func (*WebhookWorkload) Step(ctx context.Context, _ *Worker) {
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
}

// hostIP is the address the nodes reach the harness at: 127.0.0.1 for
// loopback nodes, .1 of the nodes' /24 in network namespaces.
func hostIP(nodes []*Node) string {
	ip := net.ParseIP(nodes[0].IP).To4()
	if ip == nil || ip.IsLoopback() {
		return "127.0.0.1"
	}
	return fmt.Sprintf("%d.%d.%d.1", ip[0], ip[1], ip[2])
}

// Setup starts the receiver and creates the webhook (and the tenant, if
// the ban workload has not yet).
func (g *WebhookWorkload) Setup(ctx context.Context, t *WorkTarget) error {
	recv, err := NewWebhookReceiver(net.JoinHostPort(hostIP(t.Nodes()), "0"))
	if err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	g.recv = recv
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return WaitFor(ctx, func() error {
		addr := t.Nodes()[0].HTTPAddr()
		resp, err := t.Client.Do(ctx, http.MethodPost, addr, "/v1/tenants", map[string]string{"name": g.Tenant})
		if err != nil || resp.Status != http.StatusCreated && resp.Status != http.StatusConflict {
			return fmt.Errorf("create tenant: %v %v", err, resp)
		}
		resp, err = t.Client.Do(ctx, http.MethodPost, addr, "/v1/tenants/"+g.Tenant+"/webhooks",
			map[string]any{"url": recv.URL(), "events": []string{"ban.created"}, "description": "chaos"})
		if err != nil || resp.Status != http.StatusCreated {
			return fmt.Errorf("create webhook: %v %v", err, resp)
		}
		var created struct{ ID, Secret string }
		if err := resp.JSON(&created); err != nil {
			return err
		}
		g.id = created.ID
		recv.SetSecret(created.Secret)
		return nil
	})
}

// webhookAgentArgs are the flags the webhook workload needs.
var webhookAgentArgs = []string{"--webhook-allow-private", "--webhook-allow-http"}

// WebhookChecker waits (up to Within, default 60 s) for every ban the ban
// workload had acknowledged to arrive at the webhook workload's receiver,
// then judges the deliveries with CheckWebhooks.
type WebhookChecker struct {
	Within time.Duration
}

// Name implements Checker.
func (*WebhookChecker) Name() string { return "webhooks" }

// Check implements Checker.
func (c *WebhookChecker) Check(ctx context.Context, run *RunData) Result {
	var (
		bans *BanWorkload
		hook *WebhookWorkload
	)
	for _, g := range run.Generators {
		switch g := g.(type) {
		case *BanWorkload:
			bans = g
		case *WebhookWorkload:
			hook = g
		}
	}
	if bans == nil || hook == nil || hook.recv == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "needs the bans and webhooks workloads"}
	}
	defer hook.recv.Close()
	hist := WebhookHistory{Subscribed: []string{"ban.created"}}
	ackedPlayers := map[string]bool{}
	for _, b := range bans.Acknowledged() {
		hist.Acknowledged = append(hist.Acknowledged, b.ID)
		ackedPlayers[b.Player] = true
	}
	bans.mu.Lock()
	for _, p := range bans.players {
		if !ackedPlayers[p] {
			hist.Uncertain = append(hist.Uncertain, p) // failed or indeterminate
		}
	}
	bans.mu.Unlock()
	within := c.Within
	if within <= 0 {
		within = 60 * time.Second
	}
	deadline := time.Now().Add(within)
	var res Result
	for {
		hist.Deliveries = hook.recv.Deliveries()
		res = CheckWebhooks(hist)
		if res.Verdict != Fail || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return res
}

// hasWebhooks reports whether gens include the webhook workload.
func hasWebhooks(gens []Generator) bool {
	return slices.ContainsFunc(gens, func(g Generator) bool { _, ok := g.(*WebhookWorkload); return ok })
}
