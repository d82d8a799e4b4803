package mesh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPartitionHeal cuts c off from a and b until each side has marked
// the other failed and memberlist has stopped gossiping to (and then
// forgotten) the dead, then heals the network. Only the reconnect loop
// brings the sides back together: without it they stay apart.
func TestPartitionHeal(t *testing.T) {
	t.Parallel()
	for _, reconnect := range []bool{true, false} {
		t.Run(fmt.Sprintf("reconnect=%v", reconnect), func(t *testing.T) {
			t.Parallel()
			var ms []*Mesh
			var seed Config
			var cGate <-chan *gate
			for i, name := range []string{"a", "b", "c"} {
				cfg := testConfig(t, name)
				cfg.disableReconnect = !reconnect
				if i == 0 {
					seed = cfg
				} else {
					cfg.Seeds = []string{gossipAddr(seed)}
				}
				if name == "c" {
					cGate = withGate(&cfg)
				}
				ms = append(ms, startMesh(t, cfg))
			}
			g := <-cGate
			all := []string{"a", "b", "c"}
			waitFor(t, 10*time.Second, seesAll(ms, all, StatusAlive))

			g.blocked.Store(true)
			waitFor(t, 10*time.Second, func() string {
				if s := seesAll(ms[:2], []string{"c"}, StatusFailed)(); s != "" {
					return s
				}
				return seesAll(ms[2:], []string{"a", "b"}, StatusFailed)()
			})
			// Past GossipToTheDeadTime (1 s) and a probe round, so that
			// memberlist neither gossips to nor remembers the other side.
			time.Sleep(fastTiming().GossipToTheDeadTime + time.Second)
			g.blocked.Store(false)
			healed := time.Now()

			if reconnect {
				took := waitFor(t, 10*time.Second, seesAll(ms, all, StatusAlive))
				t.Logf("healed %v after the network came back", took.Round(10*time.Millisecond))
				return
			}
			// Ten reconnect intervals later the sides are still apart.
			time.Sleep(10 * testConfig(t, "x").ReconnectInterval)
			for _, m := range ms[:2] {
				if s := statusOf(m, "c"); s != StatusFailed {
					t.Errorf("without reconnect, %s sees c as %q %v after healing", m.cfg.Name, s, time.Since(healed))
				}
			}
			if n := ms[2].NumAlive(); n != 1 {
				t.Errorf("without reconnect, c sees %d alive", n)
			}
		})
	}
}

// TestRestartWithPeersFileOnly restarts a node with no seeds: it finds
// the cluster through the peers it persisted.
func TestRestartWithPeersFileOnly(t *testing.T) {
	t.Parallel()
	// No reconnect loops anywhere: only c's start-up join from its peers
	// file may bring it back.
	aCfg := testConfig(t, "a")
	aCfg.disableReconnect = true
	a := startMesh(t, aCfg)
	bCfg := testConfig(t, "b")
	bCfg.Seeds = []string{gossipAddr(aCfg)}
	bCfg.disableReconnect = true
	b := startMesh(t, bCfg)
	cCfg := testConfig(t, "c")
	cCfg.Seeds = []string{gossipAddr(aCfg)}
	cCfg.disableReconnect = true
	cCfg.PeersFile = filepath.Join(t.TempDir(), "peers")
	c := startMesh(t, cCfg)
	all := []string{"a", "b", "c"}
	waitFor(t, 10*time.Second, seesAll([]*Mesh{a, b, c}, all, StatusAlive))

	wantPeers := []string{gossipAddr(aCfg), gossipAddr(bCfg)}
	slices.Sort(wantPeers)
	waitFor(t, 5*time.Second, func() string {
		got, err := readPeersFile(cCfg.PeersFile, testLogger())
		if err != nil || !slices.Equal(got, wantPeers) {
			return fmt.Sprintf("peers file holds %v (%v), want %v", got, err, wantPeers)
		}
		return ""
	})
	fi, err := os.Stat(cCfg.PeersFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("peers file mode %v", fi.Mode().Perm())
	}

	// c crashes, the others mark it failed, and c restarts without seeds.
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, seesAll([]*Mesh{a, b}, []string{"c"}, StatusFailed))
	restart := cCfg
	restart.Seeds = nil
	c2 := startMesh(t, restart)
	if !slices.Equal(c2.persisted, wantPeers) {
		t.Fatalf("restarted node read peers %v, want %v", c2.persisted, wantPeers)
	}
	took := waitFor(t, 10*time.Second, seesAll([]*Mesh{a, b, c2}, all, StatusAlive))
	t.Logf("restarted node rejoined from its peers file in %v", took.Round(10*time.Millisecond))
}

// TestMetaUpdateDuringJoinRetries: the start-up join loop keeps retrying
// a seed that does not answer while the node updates its metadata (the
// node shares its load every few seconds). Under -race this failed while
// join read memberlist's local node record, which UpdateNode rewrites.
func TestMetaUpdateDuringJoinRetries(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "a")
	cfg.Seeds = []string{fmt.Sprintf("127.0.0.1:%d", freePort(t))} // nobody listens
	cfg.JoinRetryMax = 100 * time.Millisecond
	m := startMesh(t, cfg)
	ctx := context.Background()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		meta := cfg.Meta
		meta.Load = Load{CPU: uint8(i % 100)}
		if err := m.UpdateMeta(ctx, meta); err != nil {
			t.Fatalf("UpdateMeta: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !m.joining.Load() {
		t.Fatal("the join loop stopped; it should still be retrying the dead seed")
	}
}
