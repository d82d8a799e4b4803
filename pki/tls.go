package pki

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Identity is a node's current certificate and key. It is safe for
// concurrent use: TLS configurations read it on every handshake, so a
// renewed certificate takes effect without a restart.
type Identity struct {
	CA   *CA
	cert atomic.Pointer[tls.Certificate]
}

// NewIdentity returns an identity for leaf (signed by ca) and key.
func NewIdentity(ca *CA, leaf *x509.Certificate, key crypto.Signer) (*Identity, error) {
	id := &Identity{CA: ca}
	if err := id.Set(leaf, key); err != nil {
		return nil, err
	}
	return id, nil
}

// Set replaces the certificate after checking it chains to the CA.
func (id *Identity) Set(leaf *x509.Certificate, key crypto.Signer) error {
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:     id.CA.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return fmt.Errorf("pki: node certificate does not chain to the cluster CA: %w", err)
	}
	id.cert.Store(&tls.Certificate{
		Certificate: [][]byte{leaf.Raw, id.CA.Cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	})
	return nil
}

// Leaf returns the current certificate.
func (id *Identity) Leaf() *x509.Certificate { return id.cert.Load().Leaf }

// RenewAt is when the current certificate should be renewed: two-thirds
// of the way through its lifetime.
func (id *Identity) RenewAt() time.Time {
	l := id.Leaf()
	return l.NotBefore.Add(l.NotAfter.Sub(l.NotBefore) * 2 / 3)
}

func (id *Identity) get() (*tls.Certificate, error) { return id.cert.Load(), nil }

// ServerConfig is the TLS configuration of the Raft/RPC port: TLS 1.3,
// and a client certificate signed by the cluster CA is required.
func (id *Identity) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      id.CA.Pool(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.get() },
	}
}

// ClientConfig dials another node: TLS 1.3, the peer must present a
// certificate for the cluster's server name signed by the cluster CA, and
// this node presents its own.
func (id *Identity) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    id.CA.Pool(),
		ServerName: ServerName(id.CA.Cluster),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.get()
		},
	}
}

// HTTPSConfig serves the REST API: TLS 1.3 with this node's certificate.
// Clients authenticate with bearer tokens; a client certificate is
// optional, and one that is given must verify against the cluster CA (the
// streaming route accepts a client certificate binding an API key, see
// SignClient; every other route ignores it).
func (id *Identity) HTTPSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      id.CA.Pool(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.get() },
	}
}

// JoinServerConfig serves the join stream: TLS 1.3 with this node's
// certificate. A client certificate is optional (a joiner has none yet);
// one that is given must verify against the cluster CA, and then marks a
// renewal (see JoinServer).
func (id *Identity) JoinServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      id.CA.Pool(),
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.get() },
	}
}

// PinnedClientConfig is what a joining node dials with: it trusts the
// one CA certificate whose SHA-256 fingerprint is fp, which the server
// must send in its chain, and checks the leaf against it. No system roots
// are consulted.
func PinnedClientConfig(cluster string, fp [32]byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := pinnedCA(cs.PeerCertificates, cluster, fp)
			return err
		},
	}
}

// pinnedCA finds the pinned CA in chain and verifies chain[0] with it.
func pinnedCA(chain []*x509.Certificate, cluster string, fp [32]byte) (*x509.Certificate, error) {
	if len(chain) < 2 {
		return nil, errors.New("pki: seed sent no CA certificate")
	}
	for _, c := range chain[1:] {
		sum := Fingerprint(c)
		if !bytes.Equal(sum[:], fp[:]) {
			continue
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		if _, err := chain[0].Verify(x509.VerifyOptions{
			Roots: pool, DNSName: ServerName(cluster),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return nil, fmt.Errorf("pki: seed certificate: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("pki: seed's CA does not match the join token's fingerprint")
}
