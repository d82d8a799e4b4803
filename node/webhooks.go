package node

import (
	"context"
	"fmt"

	"github.com/cassandranet/cassnet/webhook"
)

// The webhook deliverer (package webhook) runs on every node and delivers
// only while this node is the Raft leader, like the game-server reaper.

// webhookRunner is the deliverer and the goroutine that runs it.
type webhookRunner struct {
	d      *webhook.Deliverer
	cancel context.CancelFunc
	done   chan struct{}
}

// webhookGuard is the SSRF policy of --webhook-allow-private and
// --webhook-allow-http: the API checks URLs with it at creation, the
// deliverer at dial time.
func (c *Config) webhookGuard() *webhook.Guard {
	return &webhook.Guard{AllowPrivate: c.WebhookAllowPrivate, AllowHTTP: c.WebhookAllowHTTP}
}

// newWebhooks configures the deliverer and registers its metrics; after
// api.New.
func (n *Node) newWebhooks() error {
	d, err := webhook.New(webhook.Config{
		Store: n.store, Webhooks: n.state.Webhooks, Guard: n.cfg.webhookGuard(),
		Actor: "node:" + n.cfg.Name, Logger: n.logger.With("component", "webhooks"),
	})
	if err != nil {
		return fmt.Errorf("configure webhooks: %w", err)
	}
	for _, c := range d.Collectors() {
		if err := n.api.Registry().Register(c); err != nil {
			return fmt.Errorf("register webhook metrics: %w", err)
		}
	}
	n.webhooks = &webhookRunner{d: d}
	return nil
}

func (n *Node) startWebhooks(ctx context.Context) {
	if n.webhooks == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	n.webhooks.cancel, n.webhooks.done = cancel, make(chan struct{})
	go func() {
		defer close(n.webhooks.done)
		n.webhooks.d.Run(ctx)
	}()
}

// stopWebhooks stops the deliverer and waits for its requests.
func (n *Node) stopWebhooks() {
	if n.webhooks == nil || n.webhooks.cancel == nil {
		return
	}
	n.webhooks.cancel()
	<-n.webhooks.done
}
