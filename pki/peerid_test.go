package pki

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
	"time"
)

const testPeerID = "12D3KooWGzBr8i9P2uPJGW1n5oq3kvS7dHmfJ2gZ6s1Tj3zRQe2p"

func TestPeerURIRoundTrip(t *testing.T) {
	u, err := PeerURI(testPeerID)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.String(); got != PeerURIPrefix+testPeerID {
		t.Fatalf("uri %q", got)
	}
	id, err := peerIDOfURIs([]*url.URL{u})
	if err != nil || id != testPeerID {
		t.Fatalf("parse: %q %v", id, err)
	}
	for _, bad := range []string{"", "has space", "a/b", "x:y", string(make([]byte, 129))} {
		if _, err := PeerURI(bad); err == nil {
			t.Errorf("PeerURI(%q) accepted", bad)
		}
	}
	other, _ := url.Parse("spiffe://cluster/node")
	if _, err := peerIDOfURIs([]*url.URL{other}); !errors.Is(err, ErrNoPeerID) {
		t.Fatalf("foreign uri: %v", err)
	}
	if _, err := peerIDOfURIs([]*url.URL{u, u}); err == nil {
		t.Fatal("two peer URIs accepted")
	}
	evil, _ := url.Parse(PeerURIPrefix + "abc/def")
	if _, err := peerIDOfURIs([]*url.URL{evil}); err == nil {
		t.Fatal("malformed peer ID accepted")
	}
}

// TestSignBindsPeerID: the CA copies the CSR's peer URI into the node
// certificate, refuses malformed or extra URIs, and a CSR without one
// gives a certificate binding none.
func TestSignBindsPeerID(t *testing.T) {
	ca, err := NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	csr, _, err := NewNodeCSR("n1", nil, testPeerID)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := PeerIDOf(cert); err != nil || id != testPeerID {
		t.Fatalf("PeerIDOf: %q %v", id, err)
	}
	plain, _, _ := NewCSR("n1", nil)
	cert, err = ca.Sign(plain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PeerIDOf(cert); !errors.Is(err, ErrNoPeerID) {
		t.Fatalf("unbound cert: %v", err)
	}
	for _, uris := range [][]string{{"https://evil.example"}, {PeerURIPrefix + "a", PeerURIPrefix + "b"}} {
		c := *csr
		c.URIs = nil
		for _, s := range uris {
			u, _ := url.Parse(s)
			c.URIs = append(c.URIs, u)
		}
		c.Signature = nil // Sign checks the signature first; re-sign below
		if _, err := ca.Sign(resign(t, &c), time.Hour); err == nil {
			t.Errorf("csr with URIs %v was signed", uris)
		}
	}
}

// resign re-creates csr's request with a fresh key so that its
// signature is valid.
func resign(t *testing.T, csr *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	_, key, err := NewCSR("tmp", nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: csr.Subject, DNSNames: csr.DNSNames, URIs: csr.URIs,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
