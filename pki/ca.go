package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Default lifetimes.
const (
	// CALifetime is how long a cluster CA is valid.
	CALifetime = 10 * 365 * 24 * time.Hour
	// DefaultCertLifetime is how long a node certificate is valid; nodes
	// renew at two-thirds of it.
	DefaultCertLifetime = 30 * 24 * time.Hour
	// clockSkew backdates NotBefore so that peers with slightly slow
	// clocks accept a fresh certificate (at most a tenth of a node
	// certificate's lifetime, so short test lifetimes still renew late).
	clockSkew = 5 * time.Minute
)

// CA is a cluster certificate authority. Key is nil on nodes that only
// hold the CA certificate (they can verify, not issue).
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	Cluster string
}

// NewCA creates a self-signed ECDSA P-256 CA for cluster.
func NewCA(cluster string) (*CA, error) {
	if err := validCluster(cluster); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: ca key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "CassandraNet CA " + cluster, Organization: []string{cluster}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: self-sign ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse ca: %w", err)
	}
	return &CA{Cert: cert, Key: key, Cluster: cluster}, nil
}

// Fingerprint is the SHA-256 of the certificate's DER encoding.
func Fingerprint(cert *x509.Certificate) [sha256.Size]byte { return sha256.Sum256(cert.Raw) }

// ClusterOf returns the cluster name a CA certificate was made for.
func ClusterOf(cert *x509.Certificate) (string, error) {
	if len(cert.Subject.Organization) != 1 {
		return "", errors.New("pki: ca certificate names no cluster")
	}
	c := cert.Subject.Organization[0]
	return c, validCluster(c)
}

// Pool returns a cert pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Sign issues a node certificate for csr, valid for lifetime (default
// DefaultCertLifetime). The certificate's SANs are the node name, the
// cluster's server name, the IPs the CSR lists and the peer URI
// (PeerURI) it lists, if any; it is usable as both a
// TLS server and client certificate. The CSR must name the node in its
// CommonName and may list no other DNS name.
func (ca *CA) Sign(csr *x509.CertificateRequest, lifetime time.Duration) (*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, errors.New("pki: this node holds no CA key and cannot issue")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: csr signature: %w", err)
	}
	name := csr.Subject.CommonName
	if err := validNodeName(name); err != nil {
		return nil, err
	}
	for _, d := range csr.DNSNames {
		if d != name {
			return nil, fmt.Errorf("pki: csr may name only the node, not %q", d)
		}
	}
	if len(csr.IPAddresses) > 16 || len(csr.URIs) > 1 || len(csr.EmailAddresses) > 0 {
		return nil, errors.New("pki: csr lists unsupported names")
	}
	var uris []*url.URL
	if len(csr.URIs) == 1 { // the only URI a csr may list binds the peer ID
		pid, err := peerIDOfURIs(csr.URIs)
		if err != nil {
			return nil, err
		}
		u, err := PeerURI(pid)
		if err != nil {
			return nil, err
		}
		uris = []*url.URL{u}
	}
	if lifetime <= 0 {
		lifetime = DefaultCertLifetime
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{ca.Cluster}},
		NotBefore:    now.Add(-min(clockSkew, lifetime/10)),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name, ServerName(ca.Cluster)},
		IPAddresses:  append([]net.IP(nil), csr.IPAddresses...),
		URIs:         uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign node certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// NewCSR creates a node key and a certificate request for name and ips.
func NewCSR(name string, ips []net.IP) (*x509.CertificateRequest, crypto.Signer, error) {
	return NewNodeCSR(name, ips, "")
}

// NewNodeCSR is NewCSR that also asks for the URI SAN binding the node's
// libp2p peerID (none if peerID is empty).
func NewNodeCSR(name string, ips []net.IP, peerID string) (*x509.CertificateRequest, crypto.Signer, error) {
	if err := validNodeName(name); err != nil {
		return nil, nil, err
	}
	var uris []*url.URL
	if peerID != "" {
		u, err := PeerURI(peerID)
		if err != nil {
			return nil, nil, err
		}
		uris = []*url.URL{u}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: node key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}, IPAddresses: ips, URIs: uris,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create csr: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: parse csr: %w", err)
	}
	return csr, key, nil
}

// validNodeName accepts names that are usable as a DNS SAN label path.
func validNodeName(s string) error {
	if len(s) == 0 || len(s) > 253 {
		return fmt.Errorf("pki: node name must be 1-253 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("pki: node name %q has a character outside [A-Za-z0-9._-]", s)
		}
	}
	return nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
