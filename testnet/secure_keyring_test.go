package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/mesh"
)

// gossipKeys reads a node's gossip-keys.json.
func gossipKeys(t *testing.T, n *Node) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.DataDir, "gossip-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Keys [][]byte `json:"keys"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d.Keys
}

// TestSecureKeyringRotation rotates the gossip key on 3 nodes (install,
// use, remove through three different nodes), checks every node ends up
// with only the new key on disk, that a gossip node holding only the old
// key is refused, and that a node restarted afterwards rejoins.
func TestSecureKeyringRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	old := gossipKeys(t, nodes[0])
	if len(old) != 1 {
		t.Fatalf("bootstrap keyring has %d keys", len(old))
	}
	for _, nd := range nodes[1:] {
		if got := gossipKeys(t, nd); len(got) != 1 || !bytes.Equal(got[0], old[0]) {
			t.Fatalf("%s did not receive the cluster's gossip key at join", nd.Name)
		}
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		t.Fatal(err)
	}
	// The replicated keyring is seeded by the bootstrap node; wait for it.
	if err := WaitFor(ctx, func() error {
		r, err := cl.Do(ctx, http.MethodGet, nodes[0].HTTPAddr(), "/v1/cluster/keyring", nil)
		if err != nil || !strings.Contains(string(r.Body), `"primary":"`) || strings.Contains(string(r.Body), `"primary":""`) {
			return fmt.Errorf("keyring not seeded: %v %s", err, r.Body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		action string
		key    []byte
	}{{"install", fresh}, {"use", fresh}, {"remove", old[0]}} {
		mustWrite(t, ctx, cl, nodes[i], "/v1/cluster/keyring", map[string]any{"action": step.action, "key": step.key}, http.StatusOK)
		time.Sleep(2 * time.Second) // let every node apply each step, as an operator would wait
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := WaitFor(wctx, func() error {
		for _, nd := range nodes {
			if got := gossipKeys(t, nd); len(got) != 1 || !bytes.Equal(got[0], fresh) {
				return fmt.Errorf("%s holds %d keys, new primary %v", nd.Name, len(got), len(got) > 0 && bytes.Equal(got[0], fresh))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A gossip node with only the old key cannot join.
	m, err := mesh.New(mesh.Config{
		Name: "stale-key", NodeID: "stale-key-id", BindAddr: "127.0.0.10", BindPort: mustFreePort(t, "127.0.0.10"),
		Keys: old, Seeds: []string{nodes[0].GossipAddr()},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	time.Sleep(6 * time.Second)
	if n := m.NumAlive(); n > 1 {
		t.Fatalf("a node with the removed key sees %d alive members", n)
	}
	for _, nd := range nodes {
		r, err := cl.Do(ctx, http.MethodGet, nd.HTTPAddr(), "/v1/members", nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(r.Body), "stale-key") {
			t.Fatalf("%s lists the node with the removed key", nd.Name)
		}
	}

	// The cluster still gossips and replicates; a restart uses the new key.
	if err := nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].Restart(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, ctx, cl, nodes[0], "/v1/tenants", map[string]any{"name": "after-rotation"}, http.StatusCreated)
	waitVoters(t, ctx, cl, nodes, 3)
	waitConverged(t, ctx, cl, nodes)
}

func mustFreePort(t *testing.T, ip string) int {
	t.Helper()
	p, err := FreePorts(ip)
	if err != nil {
		t.Fatal(err)
	}
	return p.Gossip
}
