package testnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// userCert writes a self-signed certificate for ip and its key.
func userCert(t *testing.T, dir, name, ip string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return certFile, keyFile, cert
}

// TestSecureHTTPSUserCert: --http-tls-cert/--http-tls-key replace the node
// certificate on the REST port; a mismatched pair stops the agent at start.
func TestSecureHTTPSUserCert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	certFile, keyFile, user := userCert(t, dir, "rest", "127.0.0.1")
	_, otherKey, _ := userCert(t, dir, "other", "127.0.0.1")

	bad, err := NewCluster(Config{Bin: binPath, Dir: filepath.Join(dir, "bad"), AgentArgs: fastArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bad.Shutdown() })
	if _, err := bad.AddNode(ctx, "n1", "127.0.0.1", "--http-tls", "--voters", "1",
		"--http-tls-cert", certFile, "--http-tls-key", otherKey); err == nil {
		t.Fatal("the agent started with a mismatched --http-tls-cert/--http-tls-key")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bad", "n1.log")); !strings.Contains(string(b), "--http-tls") {
		t.Errorf("the refusal does not name the flag; log:\n%s", b)
	}

	c, err := NewCluster(Config{Bin: binPath, Dir: filepath.Join(dir, "good"), AgentArgs: fastArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	n, err := c.AddNode(ctx, "n1", "127.0.0.1", "--http-tls", "--voters", "1",
		"--http-tls-cert", certFile, "--http-tls-key", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(user)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}}}
	if err := WaitFor(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.HTTPAddr()+"/v1/members", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+c.AdminToken())
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("members over https: %d", resp.StatusCode)
		}
		if !resp.TLS.PeerCertificates[0].Equal(user) {
			return fmt.Errorf("REST presented %q, not the user certificate", resp.TLS.PeerCertificates[0].Subject.CommonName)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A client trusting only the cluster CA now refuses the REST port.
	caPEM, err := os.ReadFile(filepath.Join(n.DataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	clusterPool := x509.NewCertPool()
	clusterPool.AppendCertsFromPEM(caPEM)
	cc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: clusterPool}}}
	if resp, err := cc.Get("https://" + n.HTTPAddr() + "/v1/health"); err == nil {
		resp.Body.Close()
		t.Fatal("REST still verified against the cluster CA with a user certificate set")
	}
}
