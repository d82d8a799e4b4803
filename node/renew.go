package node

import (
	"context"
	"errors"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
)

// renewRetry is how long a failed renewal waits before trying again.
const renewRetry = 5 * time.Second

// startTrust starts the loops that keep this node's trust material
// current until stopTrust: certificate renewal (renewLoop) and the gossip
// keyring sync (keyringLoop, keyring.go).
func (n *Node) startTrust(ctx context.Context, id *pki.Identity) {
	ctx, cancel := context.WithCancel(ctx)
	n.trustCancel = cancel
	if n.cfg.TLSCert == "" { // an operator-issued certificate is renewed by the operator
		n.trustWG.Add(1)
		go func() { defer n.trustWG.Done(); n.renewLoop(ctx, id) }()
	}
	n.trustWG.Add(1)
	go func() { defer n.trustWG.Done(); n.keyringLoop(ctx) }()
}

// stopTrust stops those loops and waits for them.
func (n *Node) stopTrust() {
	if n.trustCancel == nil {
		return
	}
	n.trustCancel()
	n.trustWG.Wait()
}

// renewLoop renews the node certificate at two-thirds of its lifetime.
// The TLS configurations read the identity on every handshake, so a
// renewed certificate is used without a restart; connections already open
// keep the certificate they were made with.
func (n *Node) renewLoop(ctx context.Context, id *pki.Identity) {
	for {
		wait := max(time.Until(id.RenewAt()), 0)
		if !n.bindsPeer(id.Leaf()) {
			wait = 0 // issued before certificates bound peer IDs
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := n.renew(ctx, id); err != nil {
			n.logger.Warn("certificate renewal failed; retrying", "err", err, "expires", id.Leaf().NotAfter)
			select {
			case <-ctx.Done():
				return
			case <-time.After(renewRetry):
			}
		}
	}
}

// renew gets a fresh certificate: from the local CA key on the node that
// holds it, otherwise from a member that does, over its Raft port's join
// stream, authenticated by the current certificate (pki.Renew): a revoked
// join token does not stop renewals.
func (n *Node) renew(ctx context.Context, id *pki.Identity) error {
	var j *pki.Joined
	if n.ca.Key != nil {
		csr, key, err := pki.NewNodeCSR(n.cfg.Name, n.certIPs(), n.peerID)
		if err != nil {
			return err
		}
		cert, err := n.ca.Sign(csr, n.cfg.CertLifetime)
		if err != nil {
			return err
		}
		j = &pki.Joined{CA: n.ca, Cert: cert, Key: key}
	} else {
		err := errors.New("no alive member to renew from")
		for _, mem := range n.mesh.Members() {
			if mem.ID == n.id || mem.RaftAddr == "" || mem.Status != mesh.StatusAlive {
				continue
			}
			if j, err = n.renewVia(ctx, mem.RaftAddr, id); err == nil {
				break
			}
		}
		if j == nil {
			return err
		}
	}
	if err := n.saveNodeCert(j); err != nil {
		return err
	}
	if err := id.Set(j.Cert, j.Key); err != nil {
		return err
	}
	n.logger.Info("node certificate renewed", "expires", j.Cert.NotAfter)
	return nil
}
