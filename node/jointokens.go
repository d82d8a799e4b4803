package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/pki"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/cluster"
)

// joinTokenSeededFile marks that the bootstrap join token has been
// replicated; from then on only replicated tokens admit joins, so a
// revoked bootstrap token stays revoked across restarts.
const joinTokenSeededFile = "join-token.seeded"

func (n *Node) joinTokenSeeded() bool {
	_, err := os.Stat(filepath.Join(n.cfg.DataDir, joinTokenSeededFile))
	return err == nil
}

// joinSecretHashes are the join secrets this node accepts, by hash: the
// replicated, unexpired join tokens; and, on the bootstrap node before it
// has replicated its own token, that token.
func (n *Node) joinSecretHashes() [][]byte {
	hs := n.state.Cluster.JoinSecretHashes(time.Now())
	if !n.joinTokenSeeded() && len(n.state.Cluster.JoinTokens()) == 0 {
		hs = append(hs, pki.SecretHash(n.token.Secret))
	}
	return hs
}

// seedJoinToken replicates the bootstrap join token, once.
func (n *Node) seedJoinToken(retry func(string, func() *cassnetv1.Command, func() bool)) {
	if n.joinTokenSeeded() {
		return
	}
	sum := pki.SecretHash(n.token.Secret)
	id := cluster.JoinTokenID(sum)
	has := func() bool {
		for _, t := range n.state.Cluster.JoinTokens() {
			if t.ID == id {
				return true
			}
		}
		return false
	}
	retry("join token", func() *cassnetv1.Command {
		return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
			Op: &cassnetv1.Command_CreateJoinToken{CreateJoinToken: &cassnetv1.CreateJoinToken{Id: id, SecretSha256: sum}}}
	}, has)
	if has() {
		if err := writeFileAtomic(filepath.Join(n.cfg.DataDir, joinTokenSeededFile), []byte(id+"\n")); err != nil {
			n.logger.Warn("marking the join token seeded failed", "err", err)
		}
	}
}

// NewJoinToken implements api.JoinTokens: a fresh token for this cluster,
// its ID and its secret's hash. The caller replicates the hash.
func (n *Node) NewJoinToken(context.Context) (token, id string, secretHash []byte, err error) {
	tok, err := pki.NewToken(n.token.Cluster, n.token.Fingerprint)
	if err != nil {
		return "", "", nil, fmt.Errorf("new join token: %w", err)
	}
	sum := pki.SecretHash(tok.Secret)
	return tok.String(), cluster.JoinTokenID(sum), sum, nil
}
