package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Client certificates: a service authenticates to a node's REST port
// (the streaming protocol) with a certificate from the cluster CA that
// binds one tenant API key by a URI SAN, urn:cassnet:api-key:<key id>.
// The certificate grants exactly what that key grants, while the key is
// active: revoking or expiring the key revokes the certificate. It is a
// TLS client certificate only (no server use, no DNS or IP names), so a
// node certificate is never taken for one, nor one for a node's.

// APIKeyURIPrefix starts the URI SAN that binds a client certificate to
// an API key.
const APIKeyURIPrefix = "urn:cassnet:api-key:"

// DefaultClientCertLifetime is how long a client certificate is valid
// unless asked otherwise.
const DefaultClientCertLifetime = 90 * 24 * time.Hour

// ErrNoAPIKey is returned by APIKeyOf for a certificate binding no API key.
var ErrNoAPIKey = errors.New("pki: certificate binds no API key")

// validKeyID accepts an API key id: 16 lowercase hex digits.
func validKeyID(id string) error {
	if len(id) != 16 {
		return fmt.Errorf("pki: api key id %q: want 16 lowercase hex digits", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("pki: api key id %q: want 16 lowercase hex digits", id)
		}
	}
	return nil
}

// SignClient issues a client certificate for pub binding the API key
// keyID. lifetime <= 0 means DefaultClientCertLifetime.
func (ca *CA) SignClient(pub crypto.PublicKey, keyID string, lifetime time.Duration) (*x509.Certificate, error) {
	if ca.Key == nil {
		return nil, errors.New("pki: this node holds no CA key and cannot issue")
	}
	if err := validKeyID(keyID); err != nil {
		return nil, err
	}
	u, err := url.Parse(APIKeyURIPrefix + keyID)
	if err != nil {
		return nil, fmt.Errorf("pki: api key uri: %w", err)
	}
	if lifetime <= 0 {
		lifetime = DefaultClientCertLifetime
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "api-key " + keyID, Organization: []string{ca.Cluster}},
		NotBefore:    now.Add(-min(clockSkew, lifetime/10)),
		NotAfter:     now.Add(lifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign client certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// APIKeyOf returns the API key id a client certificate binds. The
// certificate must be a client-only certificate (client auth, no server
// auth, no DNS or IP names) with exactly one URI SAN, the API key's. It
// does not verify cert: callers read it only from a chain verified
// against the cluster CA.
func APIKeyOf(cert *x509.Certificate) (string, error) {
	if len(cert.DNSNames) > 0 || len(cert.IPAddresses) > 0 || len(cert.URIs) != 1 {
		return "", ErrNoAPIKey
	}
	client := false
	for _, u := range cert.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageClientAuth:
			client = true
		case x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageAny:
			return "", ErrNoAPIKey
		}
	}
	s := cert.URIs[0].String()
	if !client || !strings.HasPrefix(s, APIKeyURIPrefix) {
		return "", ErrNoAPIKey
	}
	id := s[len(APIKeyURIPrefix):]
	if err := validKeyID(id); err != nil {
		return "", err
	}
	return id, nil
}
