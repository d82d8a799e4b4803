package webhooktest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// BenchmarkClusterDeliveries measures webhook deliveries per second
// through three real agents: b.N bans written by 32 clients across the
// nodes as fast as the cluster takes them, each delivered (signed, acked
// through Raft) to a receiver in this process. It reports the delivery
// rate over the whole run and the lag from a ban's acknowledgement to its
// delivery. Run it with a fixed count, it starts a cluster:
//
//	go test ./testnet/webhooktest/ -run '^$' -bench ClusterDeliveries -benchtime 3000x
func BenchmarkClusterDeliveries(b *testing.B) {
	if testing.Short() {
		b.Skip("starts three agents")
	}
	if b.N < 100 {
		return // the framework's probe run; use -benchtime 3000x
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := b.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir, AgentArgs: []string{
		"--stabilization-time", "1s", "--webhook-allow-private", "--webhook-allow-http",
		"--rate-limit-operator", "0",
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Shutdown()
	for i := 1; i <= 3; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	cl := testnet.NewClient(c.AdminToken())
	nodes := c.Nodes()
	if err := testnet.WaitVoters(ctx, cl, nodes, 3); err != nil {
		b.Fatal(err)
	}
	recv, err := testnet.NewWebhookReceiver("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	resp, err := cl.Do(ctx, "POST", nodes[0].HTTPAddr(), "/v1/tenants", map[string]string{"name": "acme"})
	if err != nil || resp.Status != http.StatusCreated {
		b.Fatalf("tenant: %v %v", err, resp)
	}
	resp, err = cl.Do(ctx, "POST", nodes[0].HTTPAddr(), "/v1/tenants/acme/webhooks", map[string]any{"url": recv.URL(), "events": []string{"ban.created"}})
	var created struct{ Secret string }
	if err != nil || resp.Status != http.StatusCreated || resp.JSON(&created) != nil {
		b.Fatalf("webhook: %v %v", err, resp)
	}
	recv.SetSecret(created.Secret)

	var mu sync.Mutex
	ackedAt := map[string]time.Time{} // ban id -> acknowledged
	work := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range 32 {
		wg.Go(func() {
			for i := range work {
				for try := 0; ; try++ {
					resp, err := cl.Do(ctx, "POST", nodes[(i+w+try)%3].HTTPAddr(), "/v1/tenants/acme/bans",
						map[string]any{"player_id": fmt.Sprintf("p%d", i), "reason": "bench"})
					if err == nil && resp.Status == http.StatusCreated {
						var ban struct{ ID string }
						_ = resp.JSON(&ban)
						mu.Lock()
						ackedAt[ban.ID] = time.Now()
						mu.Unlock()
						break
					}
					if ctx.Err() != nil {
						return
					}
				}
			}
		})
	}
	for i := range b.N {
		work <- i
	}
	close(work)
	wg.Wait()
	written := time.Since(start)
	var lags []time.Duration
	for {
		got := recv.Deliveries()
		seen := map[string]time.Time{}
		for _, d := range got {
			if _, ok := seen[d.Data["ban_id"]]; !ok && d.SignatureOK {
				seen[d.Data["ban_id"]] = d.At
			}
		}
		if len(seen) >= b.N {
			mu.Lock()
			for id, at := range seen {
				if a, ok := ackedAt[id]; ok {
					lags = append(lags, at.Sub(a))
				}
			}
			mu.Unlock()
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("%d of %d delivered", len(seen), b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	total := time.Since(start)
	b.StopTimer()
	slices.Sort(lags)
	q := func(p float64) time.Duration { return lags[int(p*float64(len(lags)-1))] }
	b.ReportMetric(float64(b.N)/total.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/written.Seconds(), "writes/s")
	b.ReportMetric(float64(q(0.5).Microseconds())/1000, "lag-p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "lag-p99-ms")
	fmt.Fprintf(os.Stderr, "%d bans: written in %v, all delivered after %v; lag p50 %v p99 %v max %v\n",
		b.N, written.Round(time.Millisecond), total.Round(time.Millisecond), q(0.5), q(0.99), lags[len(lags)-1])
}
