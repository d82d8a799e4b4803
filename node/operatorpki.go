package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
)

// installOperatorPKI copies --tls-ca, --tls-cert and --tls-key into the
// data dir's tls directory, after checking that the certificate chains to
// the CA, so that the rest of the node uses them like built-in material.
// It runs at every start, so replaced files take effect on a restart.
func (n *Node) installOperatorPKI() error {
	c := n.cfg
	if c.TLSCA == "" && c.TLSCert == "" && c.TLSKey == "" {
		return nil
	}
	if c.TLSCA == "" || c.TLSCert == "" || c.TLSKey == "" {
		return errors.New("--tls-ca, --tls-cert and --tls-key go together")
	}
	caCert, err := pki.ReadCert(c.TLSCA)
	if err != nil {
		return fmt.Errorf("--tls-ca: %w", err)
	}
	cluster, err := pki.ClusterOf(caCert)
	if err != nil {
		return fmt.Errorf("--tls-ca: %w", err)
	}
	leaf, err := pki.ReadCert(c.TLSCert)
	if err != nil {
		return fmt.Errorf("--tls-cert: %w", err)
	}
	key, err := pki.ReadKey(c.TLSKey)
	if err != nil {
		return fmt.Errorf("--tls-key: %w", err)
	}
	ca := &pki.CA{Cert: caCert, Cluster: cluster}
	if _, err := pki.NewIdentity(ca, leaf, key); err != nil {
		return fmt.Errorf("--tls-cert: %w", err)
	}
	kb, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	dir := n.tlsDir()
	if err := pki.WritePEM(filepath.Join(dir, pki.CertKeyFile), kb); err != nil {
		return err
	}
	if err := pki.WritePEM(filepath.Join(dir, pki.CertFile), pki.EncodeCert(leaf)); err != nil {
		return err
	}
	return pki.WritePEM(filepath.Join(dir, pki.CAFile), pki.EncodeCert(caCert))
}

// fetchGossipKeys gets the gossip keyring from a seed's gossip port,
// presenting this node's (operator-issued) certificate, and stores it.
func (n *Node) fetchGossipKeys(ctx context.Context, seeds []string, id *pki.Identity) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	for {
		for _, seed := range seeds {
			d := net.Dialer{Timeout: 5 * time.Second}
			conn, err := d.DialContext(ctx, "tcp", seed)
			if err != nil {
				continue
			}
			if _, err := conn.Write([]byte{mesh.JoinStreamByte}); err != nil {
				conn.Close()
				continue
			}
			keys, err := pki.FetchGossipKeys(ctx, conn, id)
			if errors.Is(err, pki.ErrJoinRefused) {
				return nil, err
			}
			if err != nil {
				n.logger.Debug("gossip keyring fetch failed", "seed", seed, "err", err)
				continue
			}
			if err := n.saveGossipKeys(keys); err != nil {
				return nil, err
			}
			n.logger.Info("gossip keyring received", "seed", seed)
			return keys, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no seed gave the gossip keyring (pass --join): %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
