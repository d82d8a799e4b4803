package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	ca, err := NewCA("prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewToken("prod-eu", Fingerprint(ca.Cert))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseToken(tok.String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != tok.String() {
		t.Fatalf("round trip: %q != %q", got.String(), tok.String())
	}
	if strings.Contains(tok.LogValue(), "::"+strings.Split(tok.String(), "::")[3]) {
		t.Fatal("LogValue leaks the secret")
	}
}

func TestParseTokenRejects(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	sec := strings.Repeat("cd", 32)
	for _, s := range []string{
		"", "cnj_abc", "CN1::c::" + fp, "CN2::c::" + fp + "::" + sec,
		"CN1::Bad_Name::" + fp + "::" + sec, "CN1::c::" + fp[2:] + "::" + sec,
		"CN1::c::" + fp + "::" + sec[2:], "CN1::c::" + fp + "::zz" + sec[2:],
		"CN1::-c::" + fp + "::" + sec, "CN1::c::" + fp + "::" + sec + "::x",
	} {
		if _, err := ParseToken(s); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrBadToken", s, err)
		}
	}
}

func TestSignChecksCSR(t *testing.T) {
	ca, err := NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := NewCSR("n1", []net.IP{net.ParseIP("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("server.c1.cassnet"); err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewIdentity(ca, cert, key); err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("c1")
	if _, err := NewIdentity(other, cert, key); err == nil {
		t.Fatal("identity accepted a certificate from another CA")
	}
	noKey := &CA{Cert: ca.Cert, Cluster: "c1"}
	if _, err := noKey.Sign(csr, time.Hour); err == nil {
		t.Fatal("signed without a CA key")
	}
}

func TestSaveLoadCA(t *testing.T) {
	dir := t.TempDir()
	ca, _ := NewCA("c1")
	if err := SaveCA(dir, ca); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key == nil || got.Cluster != "c1" || Fingerprint(got.Cert) != Fingerprint(ca.Cert) {
		t.Fatalf("loaded CA differs: %+v", got)
	}
}

// joinPair runs a JoinServer for ca/secret and a joiner with tok over a pipe.
func joinPair(t *testing.T, ca *CA, secret []byte, tok Token) (*Joined, error, error) {
	t.Helper()
	csr, key, err := NewCSR("seed", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(ca, leaf, key)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	gossip := [][]byte{make([]byte, 32)}
	srv := &JoinServer{CA: ca, SecretHashes: func() [][]byte { return [][]byte{SecretHash(secret)} },
		GossipKeys: func() [][]byte { return gossip }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), tls.Server(a, id.JoinServerConfig())) }()
	j, cerr := Join(context.Background(), b, tok, "n2", []net.IP{net.ParseIP("127.0.0.2")})
	return j, cerr, <-done
}

func TestJoinHandshake(t *testing.T) {
	ca, _ := NewCA("c1")
	tok, _ := NewToken("c1", Fingerprint(ca.Cert))
	j, cerr, serr := joinPair(t, ca, tok.Secret, tok)
	if cerr != nil || serr != nil {
		t.Fatalf("join: client %v, server %v", cerr, serr)
	}
	if j.Cert.Subject.CommonName != "n2" || j.CA.Key != nil || len(j.GossipKeys) != 1 {
		t.Fatalf("unexpected join result %+v", j)
	}

	t.Run("wrong secret", func(t *testing.T) {
		bad, _ := NewToken("c1", Fingerprint(ca.Cert))
		_, cerr, serr := joinPair(t, ca, tok.Secret, bad)
		if !errors.Is(cerr, ErrJoinRefused) || !errors.Is(serr, ErrJoinRefused) {
			t.Fatalf("client %v, server %v", cerr, serr)
		}
	})
	t.Run("wrong fingerprint", func(t *testing.T) {
		other, _ := NewCA("c1")
		bad := tok
		bad.Fingerprint = Fingerprint(other.Cert)
		_, cerr, serr := joinPair(t, ca, tok.Secret, bad)
		if cerr == nil || serr == nil {
			t.Fatalf("client %v, server %v", cerr, serr)
		}
	})
}

// TestRenewNeedsNoSecret: a node presenting its CA-signed certificate
// renews without any join secret; a foreign certificate is refused.
func TestRenewNeedsNoSecret(t *testing.T) {
	ca, _ := NewCA("c1")
	csr, key, _ := NewCSR("seed", nil)
	leaf, _ := ca.Sign(csr, time.Hour)
	seed, _ := NewIdentity(ca, leaf, key)
	csr2, key2, _ := NewCSR("n2", nil)
	leaf2, _ := ca.Sign(csr2, time.Hour)
	mine, _ := NewIdentity(ca, leaf2, key2)

	run := func(id *Identity) (*Joined, error) {
		a, b := net.Pipe()
		srv := &JoinServer{CA: ca, SecretHashes: func() [][]byte { return nil }}
		go func() { _ = srv.Serve(context.Background(), tls.Server(a, seed.JoinServerConfig())) }()
		return Renew(context.Background(), b, id, nil)
	}
	j, err := run(mine)
	if err != nil || j.Cert.Subject.CommonName != "n2" || j.Cert.SerialNumber.Cmp(leaf2.SerialNumber) == 0 {
		t.Fatalf("renew: %v", err)
	}
	other, _ := NewCA("c1")
	csr3, key3, _ := NewCSR("n2", nil)
	leaf3, _ := other.Sign(csr3, time.Hour)
	foreign := &Identity{CA: ca}
	foreign.cert.Store(&tls.Certificate{Certificate: [][]byte{leaf3.Raw}, PrivateKey: key3, Leaf: leaf3})
	if _, err := run(foreign); err == nil {
		t.Fatal("renewal with a foreign certificate succeeded")
	}
}

// TestFetchGossipKeys: a node with a CA-signed certificate gets the
// keyring from a seed that holds no CA key; one without a certificate
// does not.
func TestFetchGossipKeys(t *testing.T) {
	ca, _ := NewCA("c1")
	csr, key, _ := NewCSR("seed", nil)
	leaf, _ := ca.Sign(csr, time.Hour)
	certOnly := &CA{Cert: ca.Cert, Cluster: "c1"}
	seed, _ := NewIdentity(certOnly, leaf, key)
	csr2, key2, _ := NewCSR("n2", nil)
	leaf2, _ := ca.Sign(csr2, time.Hour)
	mine, _ := NewIdentity(certOnly, leaf2, key2)
	serve := func() net.Conn {
		a, b := net.Pipe()
		srv := &JoinServer{CA: certOnly, SecretHashes: func() [][]byte { return nil },
			GossipKeys: func() [][]byte { return [][]byte{make([]byte, 32)} }}
		go func() { _ = srv.Serve(context.Background(), tls.Server(a, seed.JoinServerConfig())) }()
		return b
	}
	keys, err := FetchGossipKeys(context.Background(), serve(), mine)
	if err != nil || len(keys) != 1 {
		t.Fatalf("fetch: %v %d", err, len(keys))
	}
	tok, _ := NewToken("c1", Fingerprint(ca.Cert))
	if _, err := Join(context.Background(), serve(), tok, "n3", nil); err == nil {
		t.Fatal("a seed without the CA key issued a certificate")
	}
}

// TestJoinSharesCAKey: a seed with ShareCAKey hands the CA key to a
// joiner (which can then issue), never to a renewal.
func TestJoinSharesCAKey(t *testing.T) {
	ca, _ := NewCA("c1")
	tok, _ := NewToken("c1", Fingerprint(ca.Cert))
	csr, key, _ := NewCSR("seed", nil)
	leaf, _ := ca.Sign(csr, time.Hour)
	seed, _ := NewIdentity(ca, leaf, key)
	srv := &JoinServer{CA: ca, ShareCAKey: true, SecretHashes: func() [][]byte { return [][]byte{SecretHash(tok.Secret)} }}

	a, b := net.Pipe()
	go func() { _ = srv.Serve(context.Background(), tls.Server(a, seed.JoinServerConfig())) }()
	j, err := Join(context.Background(), b, tok, "n2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.CA.Key == nil {
		t.Fatal("the joiner did not receive the CA key")
	}
	// The joiner can issue with it.
	csr3, _, _ := NewCSR("n3", nil)
	issued, err := j.CA.Sign(csr3, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := issued.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate issued with the shared key does not chain: %v", err)
	}

	mine, _ := NewIdentity(j.CA, j.Cert, j.Key)
	a, b = net.Pipe()
	go func() { _ = srv.Serve(context.Background(), tls.Server(a, seed.JoinServerConfig())) }()
	r, err := Renew(context.Background(), b, mine, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.CA.Key != nil {
		t.Fatal("a renewal received the CA key")
	}

	other, _ := NewCA("c1")
	if _, err := parseCAKey(mustPKCS8(t, other.Key), ca.Cert); err == nil {
		t.Fatal("a CA key that does not match the CA certificate was accepted")
	}
}

func mustPKCS8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
