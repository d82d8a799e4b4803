package node

import (
	"context"
	"errors"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/session"
)

// seedClusterState runs on a bootstrap node: once the cluster is ready it
// makes sure the initial settings, the admin token's hash and the first
// session signing key are in the replicated state. Every step is
// idempotent, so a bootstrap node that crashed half-way finishes them on
// its next start.
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
	n.seedAdminToken(retry)
	n.seeding.Store(false)
	n.seedGossipKeyring(retry)
	n.seedJoinToken(retry)
	// The first signing key. Sessions would create it lazily anyway; doing
	// it here means the JWKS document is populated from the start.
	kid, seed, err := session.NewKey()
	if err != nil {
		n.logger.Error("generate signing key", "err", err)
		return
	}
	retry("signing key", func() *cassnetv1.Command {
		return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
			Op: &cassnetv1.Command_RotateSigningKey{RotateSigningKey: &cassnetv1.RotateSigningKey{
				Kid: kid, PrivateKey: seed, IfNone: true}}}
	}, func() bool { _, ok := n.state.Identity.ActiveSigningKey(); return ok })
}

// seedAdminToken replicates the admin-token file's hash and the initial
// settings, once: only while the state holds no operator token at all, so
// an admin token an operator has since revoked is never resurrected by a
// restart of the bootstrap node.
func (n *Node) seedAdminToken(retry func(string, func() *cassnetv1.Command, func() bool)) {
	if n.adminToken == "" {
		return
	}
	id, secret, err := api.ParseOperatorToken(n.adminToken)
	if err != nil {
		n.logger.Error("admin-token file is malformed", "err", err)
		return
	}
	if len(n.state.Operators.Tokens()) > 0 {
		return // seeded on an earlier start
	}
	// Settings first: once the token exists, seeding is done and the
	// operator owns the settings (PUT /v1/cluster/settings).
	if want := n.cfg.AuditRetention; want > 0 {
		retry("settings", func() *cassnetv1.Command {
			return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
				Op: &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{AuditRetention: want}}}
		}, func() bool { return n.state.Settings.Get().AuditRetention == want })
	}
	sum := api.HashSecret(secret)
	retry("admin token", func() *cassnetv1.Command {
		return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
			Op: &cassnetv1.Command_CreateOperatorToken{CreateOperatorToken: &cassnetv1.CreateOperatorToken{
				Id: id, Name: "admin", SecretSha256: sum}}}
	}, func() bool { _, ok := n.state.Operators.Token(id); return ok })
}
