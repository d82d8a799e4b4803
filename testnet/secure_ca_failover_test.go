package testnet

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// TestSecureCAFailover: every joined node receives the CA key with its
// certificate, so issuing survives the bootstrap node. The bootstrap node
// of a 3-voter cluster is killed; a 4th node then joins through a
// surviving node, which issues its certificate.
func TestSecureCAFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	caKey := mustReadFile(t, filepath.Join(nodes[0].DataDir, "tls", pki.CAKeyFile))
	for _, nd := range nodes[1:] {
		p := filepath.Join(nd.DataDir, "tls", pki.CAKeyFile)
		b := mustReadFile(t, p)
		if !bytes.Equal(b, caKey) {
			t.Fatalf("%s holds a CA key different from the bootstrap node's", nd.Name)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s has mode %v, want 0600", nd.Name, pki.CAKeyFile, fi.Mode().Perm())
		}
	}
	caCert, err := x509.ParseCertificate(mustRead(t, filepath.Join(nodes[0].DataDir, "tls", "ca.pem")))
	if err != nil {
		t.Fatal(err)
	}

	if err := nodes[0].Kill(); err != nil {
		t.Fatal(err)
	}
	survivors := nodes[1:]
	leaderOf(t, ctx, cl, survivors) // two of three voters keep a quorum

	seed := survivors[0]
	joiner := startIntruder(t, c, seed, "n4", "127.0.0.4", c.joinToken)
	err = WaitFor(ctx, func() error {
		if !joiner.Running() {
			return fmt.Errorf("n4 exited (log %s)", joiner.LogPath())
		}
		resp, err := cl.Do(ctx, http.MethodGet, joiner.HTTPAddr(), "/v1/ready", nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("n4 not ready: %d %s", resp.Status, resp.Body)
		}
		resp, err = cl.Do(ctx, http.MethodGet, seed.HTTPAddr(), "/v1/members", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(resp.Body), `"n4"`) {
			return fmt.Errorf("n4 not in %s's members yet", seed.Name)
		}
		return nil
	})
	if err != nil {
		if b, rerr := os.ReadFile(joiner.LogPath()); rerr == nil {
			t.Logf("==== n4 log ====\n%s", tail(b, 6000))
		}
		t.Fatalf("a 4th node could not join after the bootstrap node was killed: %v", err)
	}
	leaf, err := pki.ReadCert(filepath.Join(joiner.DataDir, "tls", pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("n4's certificate does not chain to the cluster CA: %v", err)
	}
	logb := mustReadFile(t, seed.LogPath())
	issued := false
	for _, line := range strings.Split(string(logb), "\n") {
		issued = issued || (strings.Contains(line, "issued a node certificate") && strings.Contains(line, "node=n4"))
	}
	if !issued {
		t.Errorf("%s's log does not show it issued n4's certificate", seed.Name)
	}
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
