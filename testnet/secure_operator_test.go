package testnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// TestSecureOperatorPKI runs 3 nodes on certificates from an operator CA
// (--tls-ca/--tls-cert/--tls-key), as `cassnet tls ca|cert create` makes
// them: no node holds a CA key, the join token pins the operator's CA and
// the joiners fetch only the gossip keyring.
func TestSecureOperatorPKI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pkiDir := t.TempDir()
	ca, err := pki.NewCA("ops")
	if err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(pkiDir, "ca.pem")
	if err := pki.WritePEM(caPath, pki.EncodeCert(ca.Cert)); err != nil {
		t.Fatal(err)
	}
	c, err := NewCluster(Config{Bin: binPath, Dir: t.TempDir(), AgentArgs: fastArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				b, _ := os.ReadFile(nd.LogPath())
				t.Logf("==== %s ====\n%s", nd.Name, tail(b, 4000))
			}
		}
	})
	for i := 1; i <= 3; i++ {
		name, ip := fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)
		csr, key, err := pki.NewCSR(name, []net.IP{net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := ca.Sign(csr, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := pki.EncodeKey(key)
		certPath, keyPath := filepath.Join(pkiDir, name+".pem"), filepath.Join(pkiDir, name+"-key.pem")
		if err := pki.WritePEM(certPath, pki.EncodeCert(leaf)); err != nil {
			t.Fatal(err)
		}
		if err := pki.WritePEM(keyPath, kb); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddNode(ctx, name, ip, "--tls-ca", caPath, "--tls-cert", certPath, "--tls-key", keyPath); err != nil {
			t.Fatal(err)
		}
	}
	cl := NewClient(c.AdminToken())
	nodes := c.Nodes()
	waitVoters(t, ctx, cl, nodes, 3)
	if tok := clusterToken(t, nodes[0]); tok.Fingerprint != pki.Fingerprint(ca.Cert) || tok.Cluster != "ops" {
		t.Fatal("the join token does not pin the operator's CA")
	}
	for _, nd := range nodes {
		if _, err := os.Stat(filepath.Join(nd.DataDir, "tls", pki.CAKeyFile)); err == nil {
			t.Errorf("%s holds a CA key", nd.Name)
		}
	}
	mustWrite(t, ctx, cl, nodes[2], "/v1/tenants", map[string]any{"name": "ops"}, http.StatusCreated)
	waitConverged(t, ctx, cl, nodes)
}
