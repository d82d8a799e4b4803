package testnet

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/pubsub"
)

// checkPeerIDsBound: the certificate every node presents on its mTLS
// Raft/RPC port (verified against the cluster CA, as pubsub's Binder
// reads it) binds the libp2p peer ID of the node's DATA/p2p-key.
func checkPeerIDsBound(t *testing.T, ctx context.Context, nodes []*Node) {
	t.Helper()
	ca, err := pki.LoadCA(filepath.Join(nodes[0].DataDir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := pki.NewCSR("checker", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client, err := pki.NewIdentity(ca, leaf, key)
	if err != nil {
		t.Fatal(err)
	}
	fp := pki.Fingerprint(ca.Cert)
	for _, nd := range nodes {
		_, pid, err := pubsub.LoadIdentity(filepath.Join(nd.DataDir, pubsub.IdentityFile))
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cert, err := consensus.PeerCertificate(cctx, raftAddr(nd), hex.EncodeToString(fp[:]), client.ClientConfig())
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", nd.Name, err)
		}
		if got, err := pki.PeerIDOf(cert); err != nil || got != pid.String() {
			t.Errorf("%s: certificate binds peer ID %q (%v), want %s", nd.Name, got, err, pid)
		}
	}
}
