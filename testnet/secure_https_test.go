package testnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSecureHTTPS: with --http-tls the REST API answers HTTPS with the
// node certificate, verifiable against the data dir's CA, and plain HTTP
// gets no answer from the API.
func TestSecureHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := NewCluster(Config{Bin: binPath, Dir: t.TempDir(), AgentArgs: fastArgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	n, err := c.AddNode(ctx, "n1", "127.0.0.1", "--http-tls", "--voters", "1")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(n.DataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}}}
	get := func(path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.HTTPAddr()+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.AdminToken())
		return hc.Do(req)
	}
	if err := WaitFor(ctx, func() error {
		resp, err := get("/v1/members")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("members over https: %d", resp.StatusCode)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was answered by the API")
		}
	}
	// A client that does not trust the cluster CA refuses the server.
	if _, err := http.Get("https://" + n.HTTPAddr() + "/v1/health"); err == nil {
		t.Fatal("the node certificate verified without the cluster CA")
	}
}
