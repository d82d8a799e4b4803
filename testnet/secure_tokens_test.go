package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/state/cluster"
)

// createJoinToken makes a join token through node n's API.
func createJoinToken(t *testing.T, ctx context.Context, cl *Client, n *Node) (token, id string) {
	t.Helper()
	r := mustWrite(t, ctx, cl, n, "/v1/cluster/join-tokens", map[string]any{"ttl_seconds": 3600}, http.StatusCreated)
	var v struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil || v.Token == "" {
		t.Fatalf("create join token answered %s (%v)", r.Body, err)
	}
	return v.Token, v.ID
}

func revokeJoinToken(t *testing.T, ctx context.Context, cl *Client, n *Node, id string) {
	t.Helper()
	r, err := cl.Do(ctx, http.MethodDelete, n.HTTPAddr(), "/v1/cluster/join-tokens/"+id, nil)
	if err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("revoke join token %s: %v %v", id, err, r)
	}
}

// assertRefused checks that the node started with a bad token gets no
// certificate and is listed by no member for a few seconds.
func assertRefused(t *testing.T, ctx context.Context, cl *Client, nodes []*Node, n *Node) {
	t.Helper()
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		for _, nd := range nodes {
			r, err := cl.Do(ctx, http.MethodGet, nd.HTTPAddr(), "/v1/members", nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(r.Body), `"`+n.Name+`"`) {
				t.Fatalf("%s lists %s, which joined with a revoked token", nd.Name, n.Name)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "tls", pki.CertFile)); err == nil {
		t.Fatalf("%s obtained a certificate with a revoked token", n.Name)
	}
	if b, _ := os.ReadFile(n.LogPath()); !strings.Contains(string(b), "join refused") {
		t.Fatalf("%s was not refused at the join handshake:\n%s", n.Name, tail(b, 2000))
	}
}

// TestSecureJoinTokens: created tokens admit nodes, revoked tokens
// (including the bootstrap token) do not, on 3 real processes.
func TestSecureJoinTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()

	t1, id1 := createJoinToken(t, ctx, cl, nodes[1])
	revokeJoinToken(t, ctx, cl, nodes[2], id1)
	assertRefused(t, ctx, cl, nodes, startIntruder(t, c, nodes[0], "n8", "127.0.0.8", t1))

	t2, _ := createJoinToken(t, ctx, cl, nodes[2])
	n4 := startIntruder(t, c, nodes[0], "n4", "127.0.0.4", t2)
	if err := WaitFor(ctx, func() error {
		r, err := cl.Do(ctx, http.MethodGet, nodes[0].HTTPAddr(), "/v1/members", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), `"n4"`) {
			return fmt.Errorf("n4 not a member yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v (n4 log: %s)", err, n4.LogPath())
	}

	boot := clusterToken(t, nodes[0])
	revokeJoinToken(t, ctx, cl, nodes[0], cluster.JoinTokenID(pki.SecretHash(boot.Secret)))
	assertRefused(t, ctx, cl, nodes, startIntruder(t, c, nodes[0], "n9", "127.0.0.9", boot.String()))
}
