package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/streamclient"
)

// mtlsServer serves h over TLS the way a node does (pki.HTTPSConfig: a
// client certificate is optional and must verify against the CA).
func mtlsServer(t *testing.T, h *harness, ca *pki.CA) *httptest.Server {
	t.Helper()
	csr, key, err := pki.NewCSR("node-a", []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h.h)
	srv.TLS = &tls.Config{
		MinVersion: tls.VersionTLS13, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool(),
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// clientCert issues a client certificate binding keyID from ca.
func clientCert(t *testing.T, ca *pki.CA, keyID string) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.SignClient(&k.PublicKey, keyID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

func dialCert(t *testing.T, srv *httptest.Server, ca *pki.CA, tenant string, cert *tls.Certificate) (*streamclient.Conn, error) {
	t.Helper()
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "node-a"}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := streamclient.Dial(ctx, streamclient.Config{URL: srv.URL, Tenant: tenant, TLS: conf})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// TestStreamClientCertificate: the streaming route accepts a cluster-CA
// client certificate binding an API key, with that key's rights, only
// while the key is active; no other route accepts it, and neither a node
// certificate nor another CA's certificate is a credential.
func TestStreamClientCertificate(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createTenant("other")
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srv := mtlsServer(t, h, ca)
	_, gsID := h.newKey("acme", identity.RoleGameServer, "", 0)
	gs := clientCert(t, ca, gsID)

	c, err := dialCert(t, srv, ca, "acme", &gs)
	if err != nil {
		t.Fatalf("game-server key certificate: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if res, err := c.Publish(ctx, "chat", "text/plain", []byte("hi")); err != nil || res.Seq != 1 {
		t.Fatalf("publish over mTLS: %+v %v", res, err)
	}
	if _, err := dialCert(t, srv, ca, "other", &gs); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("another tenant's stream: %v, want 404", err)
	}

	// Not a credential on a REST route.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "node-a", Certificates: []tls.Certificate{gs}}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/v1/tenants/acme/topics/chat/events?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("REST route with only a client certificate: HTTP %d, want 401", resp.StatusCode)
	}

	// A node certificate is not a client credential.
	csr, nk, err := pki.NewCSR("node-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	nleaf, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	node := tls.Certificate{Certificate: [][]byte{nleaf.Raw}, PrivateKey: nk, Leaf: nleaf}
	if _, err := dialCert(t, srv, ca, "acme", &node); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("node certificate: %v, want 401", err)
	}
	// Another CA's certificate fails the handshake.
	other, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	foreign := clientCert(t, other, gsID)
	if _, err := dialCert(t, srv, ca, "acme", &foreign); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}

	// Expiry and revocation of the key apply to its certificate.
	_, expID := h.newKey("acme", identity.RoleGameServer, "", time.Minute)
	exp := clientCert(t, ca, expID)
	if _, err := dialCert(t, srv, ca, "acme", &exp); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	h.clock.Advance(2 * time.Minute)
	if _, err := dialCert(t, srv, ca, "acme", &exp); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("expired key: %v, want 401", err)
	}
	h.mustDo("DELETE", "/v1/tenants/acme/keys/"+gsID, "", http.StatusNoContent)
	if _, err := dialCert(t, srv, ca, "acme", &gs); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("revoked key: %v, want 401", err)
	}
	// A read-only key's certificate authenticates but may not stream.
	_, roID := h.newKey("acme", identity.RoleReadOnly, "", 0)
	ro := clientCert(t, ca, roID)
	if _, err := dialCert(t, srv, ca, "acme", &ro); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("read-only key: %v, want 403", err)
	}
}
