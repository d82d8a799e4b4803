package node

import (
	"context"
	"errors"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// seedClusterState runs on a bootstrap node: once the cluster is ready it
// makes sure the admin token's hash and the initial settings are in the
// replicated state. Both steps are idempotent, so a bootstrap node that
// crashed half-way finishes them on its next start.
func (n *Node) seedClusterState(ctx context.Context) {
	for ctx.Err() == nil && !n.store.Ready() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	retry := func(what string, cmd func() *cassnetv1.Command, done func() bool) {
		for ctx.Err() == nil && !done() {
			_, err := n.store.Apply(ctx, cmd())
			if err == nil || errors.Is(err, consensus.ErrConflict) {
				return
			}
			n.logger.Warn("seeding cluster state failed; retrying", "what", what, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	if n.adminToken == "" {
		return
	}
	id, secret, err := api.ParseOperatorToken(n.adminToken)
	if err != nil {
		n.logger.Error("admin-token file is malformed", "err", err)
		return
	}
	if _, ok := n.store.State().OperatorToken(id); ok {
		return // seeded on an earlier start
	}
	// Settings first: once the token exists, seeding is done and the
	// operator owns the settings (PUT /v1/cluster/settings).
	if want := n.cfg.AuditRetention; want > 0 {
		retry("settings", func() *cassnetv1.Command {
			return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
				Op: &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{AuditRetention: want}}}
		}, func() bool { return n.store.State().Settings().AuditRetention == want })
	}
	sum := api.HashSecret(secret)
	retry("admin token", func() *cassnetv1.Command {
		return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
			Op: &cassnetv1.Command_CreateOperatorToken{CreateOperatorToken: &cassnetv1.CreateOperatorToken{
				Id: id, Name: "admin", SecretSha256: sum}}}
	}, func() bool { _, ok := n.store.State().OperatorToken(id); return ok })
}
