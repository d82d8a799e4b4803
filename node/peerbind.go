package node

import (
	"context"
	"crypto/x509"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/pubsub"
)

// bindsPeer reports whether cert binds this node's libp2p peer ID.
func (n *Node) bindsPeer(cert *x509.Certificate) bool {
	pid, err := pki.PeerIDOf(cert)
	return err == nil && pid == n.peerID
}

// checkPeerBinding warns when the node certificate does not bind the
// node's peer ID: other nodes then refuse its libp2p connections. Only an
// operator-issued certificate (--tls-cert, not renewed by the node) stays
// that way; the peer ID is public and safe to log.
func (n *Node) checkPeerBinding(id *pki.Identity) {
	if n.bindsPeer(id.Leaf()) {
		return
	}
	if n.cfg.TLSCert != "" {
		n.logger.Warn("the --tls-cert certificate does not bind this node's libp2p peer ID; "+
			"other nodes will refuse its pubsub connections: reissue it with cassnet tls cert create --peer-id",
			"peer_id", n.peerID)
		return
	}
	n.logger.Info("the node certificate does not bind this node's libp2p peer ID yet; renewing it", "peer_id", n.peerID)
}

// peerBinder learns which peer ID each member's certificate binds by a
// mutual-TLS handshake with the member's Raft/RPC port: the server
// certificate is verified against the cluster CA, so the binding cannot
// be forged by someone who can only write gossip metadata.
func (n *Node) peerBinder(id *pki.Identity) *pubsub.Binder {
	key := n.preambleKey()
	return pubsub.NewBinder(func(ctx context.Context, m mesh.Member) (*x509.Certificate, error) {
		return consensus.PeerCertificate(ctx, m.RaftAddr, key, id.ClientConfig())
	})
}
