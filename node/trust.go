package node

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
)

// DefaultCluster is the cluster name a bootstrap node puts in its CA and
// join token.
const DefaultCluster = "cassnet"

// joinWait bounds how long a node without a certificate looks for a seed
// that will issue one.
const joinWait = 2 * time.Minute

// tlsDir holds ca.pem, ca-key.pem (every node that joined through a
// CA-holding seed, see JoinServer.ShareCAKey), node.pem and node-key.pem.
func (n *Node) tlsDir() string { return filepath.Join(n.cfg.DataDir, "tls") }

// bootstrapToken creates the cluster CA (or reuses one already in the
// data dir) and returns a fresh join token that pins it.
func (n *Node) bootstrapToken() (string, error) {
	ca, err := pki.LoadCA(n.tlsDir())
	if errors.Is(err, fs.ErrNotExist) {
		if ca, err = pki.NewCA(DefaultCluster); err == nil {
			err = pki.SaveCA(n.tlsDir(), ca)
		}
	}
	if err != nil {
		return "", fmt.Errorf("cluster CA: %w", err)
	}
	if err := n.ensureGossipKey(); err != nil {
		return "", err
	}
	tok, err := pki.NewToken(ca.Cluster, pki.Fingerprint(ca.Cert))
	if err != nil {
		return "", err
	}
	return tok.String(), nil
}

// certIPs are the addresses this node's certificate names.
func (n *Node) certIPs() []net.IP {
	var ips []net.IP
	for _, s := range []string{n.cfg.Bind, n.cfg.advertiseIP()} {
		if ip := net.ParseIP(s); ip != nil && !ip.IsUnspecified() && !containsIP(ips, ip) {
			ips = append(ips, ip)
		}
	}
	return ips
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

// loadIdentity returns the node's certificate from the data dir, issues
// one with the local CA key if this node holds it, or returns nil if the
// node must join to get one.
func (n *Node) loadIdentity() (*pki.Identity, error) {
	dir := n.tlsDir()
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if pki.Fingerprint(ca.Cert) != n.token.Fingerprint {
		return nil, errors.New("the CA in the data dir does not match the join token's fingerprint")
	}
	n.ca = ca
	cert, cerr := pki.ReadCert(filepath.Join(dir, pki.CertFile))
	key, kerr := pki.ReadKey(filepath.Join(dir, pki.CertKeyFile))
	if cerr == nil && kerr == nil && time.Now().Before(cert.NotAfter) && (ca.Key == nil || n.cfg.TLSCert != "" || n.bindsPeer(cert)) {
		// A joined node renews a certificate not binding its peer ID at
		// once (renewLoop); an operator's is the operator's to reissue.
		return pki.NewIdentity(ca, cert, key)
	}
	if ca.Key == nil {
		return nil, nil // expired or missing: join again with the token
	}
	csr, key, err := pki.NewNodeCSR(n.cfg.Name, n.certIPs(), n.peerID)
	if err != nil {
		return nil, err
	}
	cert, err = ca.Sign(csr, n.cfg.CertLifetime)
	if err != nil {
		return nil, err
	}
	if err := n.saveNodeCert(&pki.Joined{CA: ca, Cert: cert, Key: key}); err != nil {
		return nil, err
	}
	return pki.NewIdentity(ca, cert, key)
}

func (n *Node) saveNodeCert(j *pki.Joined) error {
	kb, err := pki.EncodeKey(j.Key)
	if err != nil {
		return err
	}
	if err := pki.WritePEM(filepath.Join(n.tlsDir(), pki.CertKeyFile), kb); err != nil {
		return err
	}
	if err := pki.WritePEM(filepath.Join(n.tlsDir(), pki.CertFile), pki.EncodeCert(j.Cert)); err != nil {
		return err
	}
	if n.ca == nil {
		return pki.SaveCA(n.tlsDir(), j.CA)
	}
	return nil
}

// clusterID names the cluster in snapshot archives: the CA fingerprint,
// which every member and every join token share, and which differs
// between any two clusters.
func (n *Node) clusterID() string { return hex.EncodeToString(n.token.Fingerprint[:]) }

// preambleKey is what keys the Raft port's preamble once TLS is on: the
// CA fingerprint, which every member and every valid token share.
func (n *Node) preambleKey() string { return hex.EncodeToString(n.token.Fingerprint[:]) }

// joinCluster obtains a node certificate, the CA certificate and the
// gossip keys from a seed holding the CA key, over the join stream of the
// seed's gossip port (mesh.JoinStreamByte): before the join this node has
// no gossip key and so cannot learn any other address.
func (n *Node) joinCluster(ctx context.Context, seeds []string) (*pki.Identity, error) {
	if len(seeds) == 0 {
		return nil, errors.New("this node has no certificate yet: pass --join with a seed's gossip address")
	}
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	for {
		for _, seed := range seeds {
			j, err := n.joinSeed(ctx, seed)
			if errors.Is(err, pki.ErrJoinRefused) {
				return nil, err
			}
			if err != nil {
				n.logger.Debug("join attempt failed", "seed", seed, "err", err)
				continue
			}
			if len(j.GossipKeys) == 0 {
				return nil, errors.New("the seed sent no gossip keys")
			}
			if err := n.saveGossipKeys(j.GossipKeys); err != nil {
				return nil, err
			}
			if err := n.saveNodeCert(j); err != nil {
				return nil, err
			}
			n.ca = j.CA
			n.logger.Info("joined: node certificate issued", "seed", seed, "expires", j.Cert.NotAfter, "ca_key", j.CA.Key != nil)
			return pki.NewIdentity(j.CA, j.Cert, j.Key)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no seed issued a node certificate: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// joinSeed runs the join handshake on seed's gossip port.
func (n *Node) joinSeed(ctx context.Context, seed string) (*pki.Joined, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", seed)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte{mesh.JoinStreamByte}); err != nil {
		conn.Close()
		return nil, err
	}
	return pki.JoinPeer(ctx, conn, n.token, n.cfg.Name, n.certIPs(), n.peerID)
}

// renewVia asks the member at raftAddr for a new certificate.
func (n *Node) renewVia(ctx context.Context, raftAddr string, id *pki.Identity) (*pki.Joined, error) {
	conn, err := consensus.DialJoin(ctx, raftAddr, n.preambleKey())
	if err != nil {
		return nil, err
	}
	return pki.RenewPeer(ctx, conn, id, n.certIPs(), n.peerID)
}

// joinHandler serves join streams (gossip port and Raft port) with id.
// Only a node holding the CA key issues; any node hands the gossip
// keyring to a client presenting a cluster certificate (operator PKI).
func (n *Node) joinHandler(ctx context.Context, id *pki.Identity) func(net.Conn) {
	js := &pki.JoinServer{
		CA:           n.ca,
		SecretHashes: n.joinSecretHashes,
		GossipKeys:   func() [][]byte { k, _ := n.loadGossipKeys(); return k },
		Lifetime:     n.cfg.CertLifetime,
		ShareCAKey:   n.ca.Key != nil,
		Logger:       n.logger.With("component", "pki"),
	}
	return func(c net.Conn) {
		// A node without the CA key serves keys-only requests and closes
		// join requests (the joiner tries its next seed).
		if err := js.Serve(ctx, tls.Server(c, id.JoinServerConfig())); err != nil {
			n.logger.Warn("join request refused", "remote", c.RemoteAddr().String(), "err", err)
		}
	}
}

// consensusTLS is the Raft port's TLS configuration for id.
func (n *Node) consensusTLS(ctx context.Context, id *pki.Identity) *consensus.TLS {
	return &consensus.TLS{Server: id.ServerConfig(), Client: id.ClientConfig(), Join: n.joinHandler(ctx, id)}
}
