package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/testnet"
)

// allocPreferStep: two game servers on node 0 (gs-eu, gs-us, region
// labels); the default choice is gs-eu (same node, lower id). With
// alloc-prefer configured {"value":"us","only":true}, an allocation
// through node 1 gets gs-us, and the next one is a 409 no_capacity
// although gs-eu is still ready (the filter).
func allocPreferStep(t *testing.T, ctx context.Context, cl *testnet.Client, nodes []*testnet.Node, mod []byte) {
	n0, n1 := nodes[0], nodes[1]
	base := "/v1/tenants/studio"
	must(t, ctx, cl, n0, "POST", base+"/projects", map[string]any{"name": "matches"}, 201)
	var key struct{ Key string }
	if err := json.Unmarshal(must(t, ctx, cl, n0, "POST", base+"/keys", map[string]any{"name": "gs", "role": "game-server"}, 201), &key); err != nil {
		t.Fatal(err)
	}
	upload(t, ctx, cl, n0, "studio", "alloc-prefer", mod, "")
	must(t, ctx, cl, n0, "PUT", base+"/plugins/alloc-prefer/config", map[string]any{"value": "us", "only": true}, 200)

	conn, err := grpc.NewClient("passthrough:///"+n0.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gs := cassnetv1.NewGameServerServiceClient(conn)
	sctx, stop := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key.Key))
	defer stop()
	for _, id := range []string{"gs-eu", "gs-us"} {
		if _, err := gs.Register(sctx, &cassnetv1.RegisterRequest{ServerId: id, ProjectId: "matches", Address: n0.IP,
			Ports: map[string]uint32{"game": 7777}, Labels: map[string]string{"region": strings.TrimPrefix(id, "gs-")}, Capacity: 8}); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
		hs, err := gs.Health(sctx)
		if err != nil {
			t.Fatalf("health %s: %v", id, err)
		}
		go func() { // pings until the step ends
			for tick := time.NewTicker(time.Second); hs.Send(&cassnetv1.HealthPing{ServerId: id}) == nil; {
				select {
				case <-sctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
		if _, err := gs.Ready(sctx, &cassnetv1.ReadyRequest{ServerId: id}); err != nil {
			t.Fatalf("ready %s: %v", id, err)
		}
	}
	// n1's replica holds both servers ready and the plugin's config.
	err = testnet.WaitFor(ctx, func() error {
		var sum struct {
			ByState map[string]int `json:"by_state"`
		}
		if _, b := do(t, ctx, cl, n1, "GET", base+"/projects/matches/servers/summary", nil); json.Unmarshal(b, &sum) != nil || sum.ByState["ready"] != 2 {
			return fmt.Errorf("servers on %s: %s", n1.Name, b)
		}
		if _, b := do(t, ctx, cl, n1, "GET", base+"/plugins/alloc-prefer", nil); !strings.Contains(string(b), `"value":"us"`) {
			return fmt.Errorf("plugin on %s: %s", n1.Name, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		ServerID string `json:"server_id"`
	}
	if err := json.Unmarshal(must(t, ctx, cl, n1, "POST", base+"/allocations", map[string]any{"project_id": "matches"}, 201), &a); err != nil || a.ServerID != "gs-us" {
		t.Fatalf("allocation got %q (%v), want gs-us, the plugin's preference over the default gs-eu", a.ServerID, err)
	}
	status, b := do(t, ctx, cl, n1, "POST", base+"/allocations", map[string]any{"project_id": "matches"})
	if status != 409 || !strings.Contains(string(b), "no_capacity") {
		t.Fatalf("second allocation with only region us: %d %s, want 409 no_capacity", status, b)
	}
}
