package testnet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// startClusterWith is startCluster with extra agent flags for every node.
func startClusterWith(t *testing.T, ctx context.Context, n, voters int, extra ...string) (*Cluster, *Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	dir := t.TempDir()
	c, err := NewCluster(Config{Bin: binPath, Dir: dir, AgentArgs: append(append([]string(nil), fastArgs...), extra...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log (last 6000 bytes) ====\n%s", nd.Name, tail(b, 6000))
				}
			}
		}
	})
	for i := 1; i <= n; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cl := NewClient(c.AdminToken())
	waitVoters(t, ctx, cl, c.Nodes(), voters)
	return c, cl
}

// TestSecureCertRenewal: with a 12 s lifetime every node renews its
// certificate (at 2/3, without a restart), and after every first
// certificate has expired the cluster still replicates and a restarted
// node rejoins with its renewed certificate.
func TestSecureCertRenewal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const lifetime = 12 * time.Second
	c, cl := startClusterWith(t, ctx, 3, 3, "--cert-lifetime", lifetime.String())
	nodes := c.Nodes()
	first := map[string]string{}
	for _, nd := range nodes {
		cert, err := pki.ReadCert(filepath.Join(nd.DataDir, "tls", pki.CertFile))
		if err != nil {
			t.Fatal(err)
		}
		first[nd.Name] = cert.SerialNumber.String()
		if got := cert.NotAfter.Sub(cert.NotBefore); got > lifetime+2*time.Second {
			t.Fatalf("%s: certificate lifetime %s, want about %s", nd.Name, got, lifetime)
		}
	}
	// Wait past every first certificate's expiry.
	time.Sleep(lifetime + 3*time.Second)
	for _, nd := range nodes {
		cert, err := pki.ReadCert(filepath.Join(nd.DataDir, "tls", pki.CertFile))
		if err != nil {
			t.Fatal(err)
		}
		if cert.SerialNumber.String() == first[nd.Name] {
			t.Errorf("%s did not renew its certificate", nd.Name)
		}
		if !time.Now().Before(cert.NotAfter) {
			t.Errorf("%s holds an expired certificate (%s)", nd.Name, cert.NotAfter)
		}
		if !nd.Running() {
			t.Errorf("%s is not running", nd.Name)
		}
	}
	checkPeerIDsBound(t, ctx, nodes) // renewed certificates bind them too
	mustWrite(t, ctx, cl, nodes[1], "/v1/tenants", map[string]any{"name": "studio"}, http.StatusCreated)
	waitBanned(t, ctx, cl, nodes, "studio", "p1", false, 5*time.Second)

	// A restart opens new TLS connections with the renewed certificate.
	if err := nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Restart(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, ctx, cl, nodes[0], "/v1/tenants/studio/bans", map[string]any{"player_id": "p1", "reason": "x"}, http.StatusCreated)
	waitConverged(t, ctx, cl, nodes)
}
