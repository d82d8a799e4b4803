package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with
// common name cn, and its key, as PEM files in dir.
func writeSelfSigned(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return certFile, keyFile, cert
}

func TestHTTPCertLoadErrors(t *testing.T) {
	dir := t.TempDir()
	certA, keyA, _ := writeSelfSigned(t, dir, "a")
	_, keyB, _ := writeSelfSigned(t, dir, "b")
	if _, err := loadHTTPCert(certA, keyA, nil); err != nil {
		t.Fatalf("valid pair refused: %v", err)
	}
	if _, err := loadHTTPCert(certA, keyB, nil); err == nil {
		t.Fatal("mismatched certificate and key accepted")
	}
	if _, err := loadHTTPCert(filepath.Join(dir, "missing.pem"), keyA, nil); err == nil || !strings.Contains(err.Error(), "--http-tls-cert") {
		t.Fatalf("missing certificate file: err = %v", err)
	}
	if _, err := loadHTTPCert(certA, filepath.Join(dir, "missing.pem"), nil); err == nil || !strings.Contains(err.Error(), "--http-tls-key") {
		t.Fatalf("missing key file: err = %v", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadHTTPCert(junk, keyA, nil); err == nil {
		t.Fatal("non-PEM certificate accepted")
	}

	// node.New refuses at start, before writing anything.
	cfg := Defaults()
	cfg.DataDir, cfg.Name, cfg.HTTPTLS = t.TempDir(), "n1", true
	cfg.HTTPTLSCert, cfg.HTTPTLSKey = certA, keyB
	if _, err := New(cfg, nil, io.Discard); err == nil {
		t.Fatal("New accepted a mismatched --http-tls-cert/--http-tls-key")
	}
}

func TestHTTPCertValidate(t *testing.T) {
	c := Defaults()
	c.DataDir, c.Name = "/tmp/x", "n1"
	c.HTTPTLSCert = "/c.pem"
	if err := c.validate(); err == nil {
		t.Fatal("--http-tls-cert without --http-tls-key accepted")
	}
	c.HTTPTLSKey = "/k.pem"
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--http-tls") {
		t.Fatalf("--http-tls-cert without --http-tls: err = %v", err)
	}
	c.HTTPTLS = true
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPCertServes serves HTTPS with a user-supplied certificate, checks
// a client trusting it connects, and that a replaced certificate file is
// picked up on a later handshake without a restart.
func TestHTTPCertServes(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeSelfSigned(t, dir, "rest")
	hc, err := loadHTTPCert(certFile, keyFile, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", hc.serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	get := func(trust *x509.Certificate) (*x509.Certificate, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool},
			DisableKeepAlives: true,
		}}
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0], nil
	}
	got, err := get(first)
	if err != nil {
		t.Fatalf("client trusting the user certificate: %v", err)
	}
	if !got.Equal(first) {
		t.Fatal("server did not present the user-supplied certificate")
	}

	// Replace the files; a handshake after the stat interval serves the new one.
	time.Sleep(10 * time.Millisecond)
	newCert, newKey, second := writeSelfSigned(t, dir, "rest2")
	if err := os.Rename(newCert, certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newKey, keyFile); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(time.Second)
	os.Chtimes(certFile, now, now)
	os.Chtimes(keyFile, now, now)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := get(second)
		if err == nil && got.Equal(second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replaced certificate not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A broken replacement keeps the previous certificate.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(keyFile, later, later)
	time.Sleep(httpCertStatEvery + 100*time.Millisecond)
	if _, err := get(second); err != nil {
		t.Fatalf("after a broken replacement the previous certificate should stay: %v", err)
	}
}

// TestHTTPCertPeerTransport checks how a node with a user-supplied REST
// certificate verifies other members' REST API: a cluster node
// certificate, or one trusted through the user file for the dialled IP.
func TestHTTPCertPeerTransport(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, user := writeSelfSigned(t, dir, "rest")
	hc, err := loadHTTPCert(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := pki.NewCSR("n1", []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := pki.NewIdentity(ca, leaf, key)
	if err != nil {
		t.Fatal(err)
	}
	node := ident.ClientConfig()
	state := func(certs ...*x509.Certificate) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: certs}
	}
	if err := verifyRESTPeer(state(leaf, ca.Cert), node, hc.roots(), "10.9.9.9"); err != nil {
		t.Fatalf("cluster node certificate refused: %v", err)
	}
	if err := verifyRESTPeer(state(user), node, hc.roots(), "127.0.0.1"); err != nil {
		t.Fatalf("user certificate for the dialled IP refused: %v", err)
	}
	if err := verifyRESTPeer(state(user), node, hc.roots(), "10.9.9.9"); err == nil {
		t.Fatal("user certificate accepted for an IP it does not name")
	}
	_, _, stranger := writeSelfSigned(t, dir, "stranger")
	if err := verifyRESTPeer(state(stranger), node, hc.roots(), "127.0.0.1"); err == nil {
		t.Fatal("untrusted self-signed certificate accepted")
	}

	// End to end through the transport.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", hc.serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := &http.Client{Transport: hc.httpTransport(ident), Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("peer transport to a user-certificate REST API: %v", err)
	}
	resp.Body.Close()
}
