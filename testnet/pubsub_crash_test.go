package testnet

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// TestCrashedOriginReportsIsolatedTail is the silent loss the chaos
// harness found, made deterministic with real agents in network
// namespaces: the origin n3 is cut off from its peers, acknowledges five
// messages that therefore only it holds, and is killed (-9) before the
// partition heals. Restarted on its data dir, it must announce its old
// stream's head from the head ledger, so that the subscriber on n1 gets
// a gap naming exactly those five, where it used to get nothing at all.
func TestCrashedOriginReportsIsolatedTail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agent processes")
	}
	if err := NetnsAvailable(); err != nil {
		t.Skipf("network namespaces unavailable (%v): the origin cannot be cut off", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	tb, err := startTestbed(ctx, testbedConfig{Bin: binPath, Dir: t.TempDir(), Nodes: 3, Voters: 3,
		Mode: ModeNetns, AgentArgs: fastArgs, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close(context.WithoutCancel(ctx))
	nodes, cl := tb.Cluster.Nodes(), tb.Client
	if resp, err := cl.Do(ctx, http.MethodPost, nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": "acme"}); err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create tenant: %v %v", resp, err)
	}
	waitPubSubMesh(t, ctx, cl, nodes, "acme")
	token := tb.Cluster.AdminToken()
	sub, err := openSSE(ctx, nodes[0].HTTPAddr(), token, "/v1/tenants/acme/topics/match/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.close()
	hc := &http.Client{Timeout: 10 * time.Second}
	origin := nodes[2]
	publishSeq(t, ctx, hc, origin, token, 1, 3) // both sides know the stream
	last := sub.nextMessages(t, 3, 1)
	var first sseMsg
	if err := json.Unmarshal(last.Data, &first); err != nil {
		t.Fatal(err)
	}

	if err := nftApply(ctx, origin.Netns, dropRules(partitionTable, []string{nodes[0].IP, nodes[1].IP}, 100)); err != nil {
		t.Fatal(err)
	}
	publishSeq(t, ctx, hc, origin, token, 4, 8) // acknowledged; only the origin has them
	if err := origin.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := nftDelete(ctx, origin.Netns, partitionTable); err != nil {
		t.Fatal(err)
	}
	if err := origin.Restart(); err != nil {
		t.Fatal(err)
	}

	for {
		ev := sub.next(t, 45*time.Second)
		switch ev.Event {
		case "message":
			var m sseMsg
			if json.Unmarshal(ev.Data, &m) == nil && m.Epoch == first.Epoch {
				t.Fatalf("message %d of the lost tail delivered: nobody but the killed origin had it", m.Seq)
			}
			continue // the restarted origin's new stream, if any
		case "gap":
			var g struct {
				Origin, Epoch string
				From, To      uint64
			}
			if err := json.Unmarshal(ev.Data, &g); err != nil {
				t.Fatal(err)
			}
			if g.Origin != first.Origin || g.Epoch != first.Epoch || g.From != 4 || g.To != 8 {
				t.Fatalf("gap %s, want %s/%s 4-8", ev.Data, first.Origin, first.Epoch)
			}
			return
		default:
			t.Fatalf("unexpected %s event: %s", ev.Event, ev.Data)
		}
	}
}
