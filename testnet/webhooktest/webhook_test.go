// Package webhooktest is issue 15's webhook proof with real processes:
// three `cassnet agent`s, a receiver in the test that verifies every
// signature, 1,000 bans written while the leader and then a follower are
// killed (and restarted), and the webhook checker of package testnet:
// every acknowledged ban's ban.created event arrives, each under exactly
// one id, duplicates only retries of that id, and no event of a type that
// was not subscribed.
package webhooktest

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	if p := os.Getenv("CASSNET_BIN"); p != "" {
		binPath = p
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "cassnet-webhook-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "cassnet")
	// With -race, as the testnet package's agents: a race in the
	// deliverer fails the test (the agent writes a .race file).
	build := exec.Command("go", "build", "-race", "-o", binPath, "../../cmd/cassnet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cassnet:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const totalBans = 1000

func TestWebhooksSurviveFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three real agents")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir, AgentArgs: []string{
		"--stabilization-time", "1s", "--reconnect-interval", "1s",
		"--webhook-allow-private", "--webhook-allow-http",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					t.Logf("==== %s log ====\n%s", nd.Name, b[max(0, len(b)-5000):])
				}
			}
		}
		if races, _ := filepath.Glob(filepath.Join(dir, "*.race*")); len(races) > 0 {
			for _, r := range races {
				b, _ := os.ReadFile(r)
				t.Errorf("data race reported by an agent (%s):\n%s", r, b)
			}
		}
	})
	for i := 1; i <= 3; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cl := testnet.NewClient(c.AdminToken())
	nodes := c.Nodes()
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	if err := testnet.WaitVoters(wctx, cl, nodes, 3); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
	wcancel()

	recv, err := testnet.NewWebhookReceiver("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = recv.Close() })
	must := func(method, path string, body any, want int) *testnet.Response {
		t.Helper()
		var last error
		for range 50 {
			for _, nd := range nodes {
				resp, err := cl.Do(ctx, method, nd.HTTPAddr(), path, body)
				if err == nil && resp.Status == want {
					return resp
				}
				last = fmt.Errorf("%v %v", err, resp)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s %s: %v", method, path, last)
		return nil
	}
	must("POST", "/v1/tenants", map[string]string{"name": "acme"}, http.StatusCreated)
	var created struct{ ID, Secret string }
	if err := must("POST", "/v1/tenants/acme/webhooks", map[string]any{"url": recv.URL(), "events": []string{"ban.created"}, "description": "proof"},
		http.StatusCreated).JSON(&created); err != nil || created.Secret == "" {
		t.Fatalf("create webhook: %v %+v", err, created)
	}
	recv.SetSecret(created.Secret)
	recv.FailNext(3) // the first deliveries are retried

	// Writers: each player gets a ban; a failed or timed-out write is
	// retried on the next node, and its player marked uncertain.
	var (
		mu        sync.Mutex
		acked     []string
		uncertain []string
		count     atomic.Int64
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range work {
				player := fmt.Sprintf("p%04d", i)
				for try := 0; ; try++ {
					nd := nodes[(i+w+try)%3]
					rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
					resp, err := cl.Do(rctx, "POST", nd.HTTPAddr(), "/v1/tenants/acme/bans", map[string]any{"player_id": player, "reason": "aimbot"})
					rcancel()
					if err == nil && resp.Status == http.StatusCreated {
						var b struct{ ID string }
						_ = resp.JSON(&b)
						mu.Lock()
						acked = append(acked, b.ID)
						mu.Unlock()
						count.Add(1)
						break
					}
					if ctx.Err() != nil {
						return
					}
					// A refusal before the write (no leader, connection
					// refused) changes nothing, but a time-out or 5xx may
					// have written: the player is uncertain either way.
					mu.Lock()
					uncertain = append(uncertain, player)
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	faults := make(chan error, 1)
	go func() {
		faults <- func() error {
			var prev *testnet.Node
			for _, at := range []int64{250, 600} {
				for count.Load() < at {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					time.Sleep(20 * time.Millisecond)
				}
				victim, err := pick(ctx, cl, nodes, at == 250, prev)
				if err != nil {
					return err
				}
				t.Logf("%d bans acknowledged: killing %s (leader: %v)", count.Load(), victim.Name, at == 250)
				if err := victim.Kill(); err != nil {
					return err
				}
				time.Sleep(3 * time.Second)
				if err := victim.Restart(); err != nil {
					return err
				}
				wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
				err = testnet.WaitVoters(wctx, cl, nodes, 3)
				wcancel()
				if err != nil {
					return fmt.Errorf("after restarting %s: %w", victim.Name, err)
				}
				t.Logf("%s back; %d bans acknowledged", victim.Name, count.Load())
				prev = victim
			}
			return nil
		}()
	}()
	start := time.Now()
	for i := range totalBans {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := <-faults; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bans written in %v (%d uncertain attempts)", len(acked), time.Since(start).Round(time.Millisecond), len(uncertain))
	// Revoking is not subscribed: no ban.revoked may arrive.
	for _, id := range acked[:5] {
		must("DELETE", "/v1/tenants/acme/bans/"+id, nil, http.StatusOK)
	}

	deadline := time.Now().Add(90 * time.Second)
	var res testnet.Result
	for {
		res = testnet.CheckWebhooks(testnet.WebhookHistory{Subscribed: []string{"ban.created"}, Acknowledged: acked,
			Uncertain: uncertain, Deliveries: recv.Deliveries()})
		if res.Verdict == testnet.Pass || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%s", res)
	if res.Verdict != testnet.Pass || len(acked) != totalBans {
		t.Fatalf("webhook checker: %s (%d acknowledged)", res, len(acked))
	}
	// The outbox drains and the status says so.
	var st struct {
		Pending   int    `json:"pending"`
		Delivered uint64 `json:"delivered"`
		Enabled   bool   `json:"enabled"`
	}
	waitFor(t, ctx, func() bool {
		resp, err := cl.Do(ctx, "GET", nodes[0].HTTPAddr(), "/v1/tenants/acme/webhooks/"+created.ID+"?consistent", nil)
		return err == nil && resp.Status == 200 && resp.JSON(&st) == nil && st.Pending == 0
	})
	if !st.Enabled || st.Delivered < totalBans {
		t.Fatalf("webhook status %+v", st)
	}
}

// pick returns the leader, or a follower other than not.
func pick(ctx context.Context, cl *testnet.Client, nodes []*testnet.Node, leader bool, not *testnet.Node) (*testnet.Node, error) {
	for range 100 {
		for _, nd := range nodes {
			if nd == not {
				continue
			}
			info, err := cl.Raft(ctx, nd)
			if err != nil {
				continue
			}
			if (info.State == "Leader") == leader {
				return nd, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("no %v node found", map[bool]string{true: "leader", false: "follower"}[leader])
}

func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatal("timed out")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
