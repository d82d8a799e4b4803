package node

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/cluster"
)

// keyringPoll is how often the replicated gossip keyring is compared with
// the one in use.
const keyringPoll = 500 * time.Millisecond

// keyringLoop applies the replicated gossip keyring (consensus, changed by
// `cassnet keyring install|use|remove`) to the mesh and to the data dir's
// gossip-keys.json, so that a rotation reaches every node and a node
// restarted mid-rotation starts with the keyring it last had. An empty
// replicated keyring (before the bootstrap node seeds it) is ignored.
func (n *Node) keyringLoop(ctx context.Context) {
	var applied [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(keyringPoll):
		}
		want := n.state.Cluster.GossipKeys()
		if len(want) == 0 || slices.EqualFunc(want, applied, bytes.Equal) {
			continue
		}
		if err := n.mesh.SetKeys(want); err != nil {
			n.logger.Warn("applying the gossip keyring failed", "err", err)
			continue
		}
		if err := n.saveGossipKeys(want); err != nil {
			n.logger.Warn("saving the gossip keyring failed", "err", err)
			continue
		}
		if applied != nil {
			n.logger.Info("gossip keyring updated", "keys", len(want), "primary", cluster.GossipKeyID(want[0]))
		}
		applied = want
	}
}

// seedGossipKeyring replicates the bootstrap node's gossip key, once:
// only while the replicated keyring is empty, so a restart never undoes a
// rotation.
func (n *Node) seedGossipKeyring(retry func(string, func() *cassnetv1.Command, func() bool)) {
	if len(n.state.Cluster.GossipKeys()) > 0 {
		return
	}
	keys, err := n.loadGossipKeys()
	if err != nil {
		n.logger.Error("gossip keyring", "err", err)
		return
	}
	retry("gossip keyring", func() *cassnetv1.Command {
		return &cassnetv1.Command{Version: consensus.CommandVersion, Actor: "system:bootstrap",
			Op: &cassnetv1.Command_UpdateGossipKeyring{UpdateGossipKeyring: &cassnetv1.UpdateGossipKeyring{
				Action: cluster.KeyringInstall, Key: keys[0]}}}
	}, func() bool { return len(n.state.Cluster.GossipKeys()) > 0 })
}
