package testnet

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// as returns a client of cl's HTTP transport that authenticates with cred.
func as(cl *Client, cred string) *Client { return &Client{Token: cred, HTTP: cl.HTTP} }

// createKey makes an API key of tenant through node n and returns it.
func createKey(t *testing.T, ctx context.Context, cl *Client, n *Node, tenant, role string) string {
	t.Helper()
	r := mustWrite(t, ctx, cl, n, "/v1/tenants/"+tenant+"/keys", map[string]any{"name": role, "role": role}, http.StatusCreated)
	var k struct {
		Key string `json:"key"`
	}
	if err := r.JSON(&k); err != nil || k.Key == "" {
		t.Fatalf("create key: %s (%v)", r.Body, err)
	}
	return k.Key
}

// verdict verifies token on node n as cl.
func verdict(ctx context.Context, cl *Client, n *Node, token string) (string, error) {
	r, err := cl.Do(ctx, http.MethodPost, n.HTTPAddr(), "/v1/sessions/verify", map[string]string{"token": token})
	if err != nil {
		return "", err
	}
	var v struct {
		Reason string `json:"reason"`
	}
	if r.Status != http.StatusOK {
		return "", fmt.Errorf("verify on %s: %d %s", n.Name, r.Status, r.Body)
	}
	if err := r.JSON(&v); err != nil {
		return "", err
	}
	return v.Reason, nil
}

// waitUntil polls cond every 5 ms until it returns nil or within passes,
// and returns how long it took.
func waitUntil(t *testing.T, ctx context.Context, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		if last = cond(); last == nil {
			return time.Since(start)
		}
		select {
		case <-wctx.Done():
			t.Fatalf("%s: not within %s (last: %v)", what, within, last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestIdentityAcrossNodes: a key revoked on one node is refused on
// another, and a session revoked on one node is reported revoked on
// another, both within a second; a session issued on node 1 verifies on
// node 3.
func TestIdentityAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	mustWrite(t, ctx, cl, n1, "/v1/tenants", map[string]any{"name": "studio"}, http.StatusCreated)
	admin := as(cl, createKey(t, ctx, cl, n1, "studio", "tenant-admin"))
	gs := as(cl, createKey(t, ctx, cl, n1, "studio", "game-server"))
	victim := as(cl, createKey(t, ctx, cl, n2, "studio", "read-only"))
	var victimID string
	{
		r, err := admin.Do(ctx, http.MethodGet, n1.HTTPAddr(), "/v1/tenants/studio/keys", nil)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Keys []struct{ ID, Role string } `json:"keys"`
		}
		if err := r.JSON(&list); err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			if k.Role == "read-only" {
				victimID = k.ID
			}
		}
	}
	// Every key works on node 3 once replicated.
	waitUntil(t, ctx, 5*time.Second, "keys replicated to n3", func() error {
		for _, k := range []*Client{admin, gs, victim} {
			r, err := k.Do(ctx, http.MethodGet, n3.HTTPAddr(), "/v1/tenants/studio", nil)
			if err != nil {
				return err
			}
			if r.Status != http.StatusOK {
				return fmt.Errorf("status %d", r.Status)
			}
		}
		return nil
	})

	// A session issued on node 1 verifies on node 3 (with node 3's own
	// copy of the signing key, no hop).
	r := mustWrite(t, ctx, gs, n1, "/v1/tenants/studio/sessions", map[string]any{"player_id": "p1"}, http.StatusCreated)
	var sess struct {
		SessionID string `json:"session_id"`
		Token     string `json:"token"`
	}
	if err := r.JSON(&sess); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, 5*time.Second, "session from n1 valid on n3", func() error {
		reason, err := verdict(ctx, gs, n3, sess.Token)
		if err == nil && reason != "ok" {
			err = fmt.Errorf("reason %q", reason)
		}
		return err
	})

	// Revoke the key through node 1; node 3 refuses it within a second.
	sent := time.Now()
	r, err := admin.Do(ctx, http.MethodDelete, n1.HTTPAddr(), "/v1/tenants/studio/keys/"+victimID, nil)
	if err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("revoke key: %v %v", r, err)
	}
	acked := time.Since(sent)
	took := waitUntil(t, ctx, time.Second, "revoked key refused on n3", func() error {
		r, err := victim.Do(ctx, http.MethodGet, n3.HTTPAddr(), "/v1/tenants/studio", nil)
		if err == nil && r.Status != http.StatusUnauthorized {
			err = fmt.Errorf("status %d", r.Status)
		}
		return err
	})
	t.Logf("key revoked on n1 (acknowledged after %s) refused on n3 %s after the acknowledgement", acked, took)

	// Revoke the session through node 2; node 3 reports it revoked within
	// a second.
	sent = time.Now()
	r, err = admin.Do(ctx, http.MethodDelete, n2.HTTPAddr(), "/v1/tenants/studio/sessions/"+sess.SessionID, nil)
	if err != nil || r.Status != http.StatusNoContent {
		t.Fatalf("revoke session: %v %v", r, err)
	}
	acked = time.Since(sent)
	took = waitUntil(t, ctx, time.Second, "revoked session on n3", func() error {
		reason, err := verdict(ctx, gs, n3, sess.Token)
		if err == nil && reason != "revoked" {
			err = fmt.Errorf("reason %q", reason)
		}
		return err
	})
	t.Logf("session revoked on n2 (acknowledged after %s) reported revoked on n3 %s after the acknowledgement", acked, took)

	// The JWKS is public and the same on every node.
	var first string
	for _, n := range nodes {
		r, err := (&Client{HTTP: cl.HTTP}).Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/auth/jwks.json", nil)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("jwks on %s: %v %v", n.Name, r, err)
		}
		if first == "" {
			first = string(r.Body)
		} else if string(r.Body) != first {
			t.Errorf("jwks differs on %s", n.Name)
		}
	}
	waitConverged(t, ctx, cl, nodes)
}
