package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestClientCertificateBindsAPIKey(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.SignClient(&k.PublicKey, "0123456789abcdef", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := APIKeyOf(c); err != nil || id != "0123456789abcdef" {
		t.Fatalf("APIKeyOf = %q, %v", id, err)
	}
	for _, bad := range []string{"", "0123456789ABCDEF", "0123456789abcde", "../../etc/passwd"} {
		if _, err := ca.SignClient(&k.PublicKey, bad, time.Hour); err == nil {
			t.Errorf("SignClient accepted key id %q", bad)
		}
	}
	// A node certificate (server and client auth, names) binds no key.
	csr, _, err := NewNodeCSR("node-a", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := APIKeyOf(node); !errors.Is(err, ErrNoAPIKey) {
		t.Fatalf("node certificate: %v, want ErrNoAPIKey", err)
	}
	// A server-usable certificate carrying the URI is still refused.
	node.URIs, node.DNSNames = c.URIs, nil
	if _, err := APIKeyOf(node); !errors.Is(err, ErrNoAPIKey) {
		t.Fatalf("server certificate with an api-key URI: %v, want ErrNoAPIKey", err)
	}
}
