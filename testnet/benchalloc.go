package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// benchAllocTenant is the allocation suite's tenant.
const benchAllocTenant = "bench-alloc"

// AllocBenchOptions configures BenchmarkAllocations.
type AllocBenchOptions struct {
	// Bin, Nodes, Clients, Duration, Warmup, Version and Progress are as
	// in BenchOptions.
	BenchOptions
	// ServersPerNode game servers register on each node over gRPC
	// (default 200; a node holds at most 256).
	ServersPerNode int
}

// AllocBenchReport is what one allocation benchmark measured.
type AllocBenchReport struct {
	Date     string       `json:"date"`
	Machine  BenchMachine `json:"machine"`
	System   string       `json:"system"`
	Nodes    int          `json:"nodes"`
	Clients  int          `json:"clients"`
	Servers  int          `json:"servers"`
	Duration string       `json:"duration"`
	Warmup   string       `json:"warmup"`
	// Allocations is POST /v1/tenants/{t}/allocations answered 201.
	Allocations BenchPhase `json:"allocations"`
	// Recycled is how many allocated servers were returned to ready
	// (gRPC Ready on their node) during the run; RecycleErrors the
	// Ready calls that failed.
	Recycled      int64 `json:"recycled"`
	RecycleErrors int64 `json:"recycle_errors"`
}

// BenchmarkAllocations starts a cassnet cluster in dir, registers
// ServersPerNode game servers on every node through the game-server gRPC
// API (one Health stream per node pings them all), and measures
// allocations from Clients concurrent matchmakers over REST (client i on
// node i % Nodes, a fresh idempotency key per request, selectors and
// metadata as in issue 11). Every allocated server is returned to ready
// (gRPC Ready on its node) as soon as it is handed out, outside the
// measured request, so capacity never runs out: the Ready writes share the
// cluster with the allocations, as in production.
func BenchmarkAllocations(ctx context.Context, f AllocBenchOptions, dir string) (*AllocBenchReport, error) {
	if f.Progress == nil {
		f.Progress = io.Discard
	}
	if f.ServersPerNode <= 0 {
		f.ServersPerNode = 200
	}
	rep := &AllocBenchReport{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: benchMachine(), System: "cassnet " + f.Version,
		Nodes: f.Nodes, Clients: f.Clients, Servers: f.Nodes * f.ServersPerNode,
		Duration: f.Duration.String(), Warmup: f.Warmup.String(),
	}
	c, err := NewCluster(Config{
		Bin: f.Bin, Dir: filepath.Join(dir, "cassnet"),
		// The per-key and per-tenant write limits (default 50 and 200/s
		// per node) would measure the limiter, not allocation.
		AgentArgs: []string{"--stabilization-time", "1s", "--log-level", "warn",
			"--rate-limit-key", "0", "--rate-limit-tenant", "0"},
	})
	if err != nil {
		return nil, err
	}
	defer c.Shutdown()
	fmt.Fprintf(f.Progress, "bench alloc: starting %d cassnet agents in %s\n", f.Nodes, dir)
	for i := 1; i <= f.Nodes; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			return nil, err
		}
	}
	admin := &Client{Token: c.AdminToken(), HTTP: NewLoadHTTPClient(f.Clients)}
	defer admin.HTTP.CloseIdleConnections()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	nodes := c.Nodes()
	if err := WaitVoters(wctx, admin, nodes, min(f.Nodes, 3)); err != nil {
		return nil, fmt.Errorf("cluster did not settle: %w", err)
	}
	addr0 := nodes[0].HTTPAddr()
	if err := benchPost(ctx, admin, addr0, "/v1/tenants", map[string]string{"name": benchAllocTenant}); err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	if err := benchPost(ctx, admin, addr0, "/v1/tenants/"+benchAllocTenant+"/projects", map[string]string{"name": allocProject}); err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	gsKey, err := newAPIKey(ctx, admin, addr0, benchAllocTenant, "bench-game-servers", "game-server")
	if err != nil {
		return nil, err
	}
	mmKey, err := newAPIKey(ctx, admin, addr0, benchAllocTenant, "bench-matchmaker", "matchmaker")
	if err != nil {
		return nil, err
	}
	mm := &Client{Token: mmKey, HTTP: admin.HTTP}

	fleet, err := startBenchFleet(ctx, nodes, gsKey, f.ServersPerNode)
	if err != nil {
		return nil, err
	}
	defer fleet.close()
	fmt.Fprintf(f.Progress, "bench alloc: %d game servers registered; waiting until all are ready\n", rep.Servers)
	if err := waitAllocReady(wctx, mm, addr0, rep.Servers); err != nil {
		return nil, err
	}

	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.HTTPAddr())
	}
	body := func(key string) map[string]any {
		return map[string]any{
			"project_id":      allocProject,
			"selectors":       []map[string]any{{"labels": map[string]string{allocLabelKey: allocLabelValue}, "state": "ready"}},
			"strategy":        "packed",
			"metadata":        map[string]any{"labels": map[string]string{"match": key}},
			"idempotency_key": key,
		}
	}
	fmt.Fprintf(f.Progress, "bench alloc: %d clients, %s warm-up + %s\n", f.Clients, f.Warmup, f.Duration)
	res, err := RunLoad(ctx, LoadConfig{Clients: f.Clients, Warmup: f.Warmup, Duration: f.Duration}, func(ctx context.Context, client, seq int) error {
		key := benchKey(client, seq)
		resp, err := mm.Do(ctx, http.MethodPost, addrs[client%len(addrs)], "/v1/tenants/"+benchAllocTenant+"/allocations", body(key))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated {
			return &StatusError{Status: resp.Status, Body: string(resp.Body)}
		}
		var a struct {
			Server string `json:"server_id"`
			Node   string `json:"node"`
		}
		if err := resp.JSON(&a); err != nil {
			return err
		}
		fleet.recycle(a.Node, a.Server)
		return nil
	})
	fleet.drain()
	rep.Allocations = newBenchPhase(res)
	rep.Recycled, rep.RecycleErrors = fleet.recycled.Load(), fleet.failed.Load()
	return rep, err
}

// waitAllocReady polls the project's summary until want servers are ready.
func waitAllocReady(ctx context.Context, cl *Client, addr string, want int) error {
	return WaitFor(ctx, func() error {
		var sum struct {
			ByState map[string]int `json:"by_state"`
		}
		resp, err := cl.Do(ctx, http.MethodGet, addr, "/v1/tenants/"+benchAllocTenant+"/projects/"+allocProject+"/servers/summary", nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.JSON(&sum) != nil {
			return fmt.Errorf("summary: HTTP %d %s", resp.Status, resp.Body)
		}
		if sum.ByState["ready"] < want {
			return fmt.Errorf("%d of %d servers ready (%v): does this build replicate gRPC registrations?", sum.ByState["ready"], want, sum.ByState)
		}
		return nil
	})
}

// recyclers is how many Ready calls are in flight at most: as many as
// matchmakers, so returning servers keeps up with allocating them.
const recyclers = 64

// benchFleet is the benchmark's game servers: per node one gRPC
// connection, one Health stream pinging all of that node's servers every
// second, and recyclers that send Ready for every allocated server.
type benchFleet struct {
	ctx      context.Context
	cancel   context.CancelFunc
	conns    []*grpc.ClientConn
	clients  map[string]cassnetv1.GameServerServiceClient // by node name
	queue    chan [2]string                               // node, server
	wg       sync.WaitGroup
	recycled atomic.Int64
	failed   atomic.Int64
}

func startBenchFleet(ctx context.Context, nodes []*Node, key string, perNode int) (*benchFleet, error) {
	fl := &benchFleet{clients: map[string]cassnetv1.GameServerServiceClient{}, queue: make(chan [2]string, 1<<14)}
	fl.ctx, fl.cancel = context.WithCancel(metadata.AppendToOutgoingContext(context.WithoutCancel(ctx), "authorization", "Bearer "+key))
	ok := false
	defer func() {
		if !ok {
			fl.close()
		}
	}()
	for _, n := range nodes {
		conn, err := grpc.NewClient("passthrough:///"+n.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", n.Name, err)
		}
		fl.conns = append(fl.conns, conn)
		gs := cassnetv1.NewGameServerServiceClient(conn)
		fl.clients[n.Name] = gs
		var ids []string
		for i := range perNode {
			id := fmt.Sprintf("%s-gs-%03d", n.Name, i)
			ids = append(ids, id)
			rctx, cancel := context.WithTimeout(fl.ctx, 10*time.Second)
			_, err := gs.Register(rctx, &cassnetv1.RegisterRequest{ServerId: id, ProjectId: allocProject, Address: n.IP,
				Ports: map[string]uint32{"game": 7777}, Labels: map[string]string{allocLabelKey: allocLabelValue}, Capacity: 8})
			if err == nil {
				_, err = gs.Ready(rctx, &cassnetv1.ReadyRequest{ServerId: id})
			}
			cancel()
			if err != nil {
				return nil, fmt.Errorf("register %s on %s: %w", id, n.Name, err)
			}
		}
		hs, err := gs.Health(fl.ctx)
		if err != nil {
			return nil, fmt.Errorf("health stream on %s: %w", n.Name, err)
		}
		fl.wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				for _, id := range ids {
					if hs.Send(&cassnetv1.HealthPing{ServerId: id}) != nil {
						return
					}
				}
				select {
				case <-fl.ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	for range recyclers {
		fl.wg.Go(fl.recycler)
	}
	ok = true
	return fl, nil
}

// recycle queues an allocated server for Ready.
func (fl *benchFleet) recycle(node, server string) {
	select {
	case fl.queue <- [2]string{node, server}:
	case <-fl.ctx.Done():
	}
}

func (fl *benchFleet) recycler() {
	for {
		select {
		case <-fl.ctx.Done():
			return
		case job, open := <-fl.queue:
			if !open {
				return
			}
			gs := fl.clients[job[0]]
			if gs == nil {
				fl.failed.Add(1)
				continue
			}
			ctx, cancel := context.WithTimeout(fl.ctx, 10*time.Second)
			_, err := gs.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: job[1]})
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				fl.failed.Add(1)
				continue
			}
			fl.recycled.Add(1)
		}
	}
}

// drain lets the recyclers finish what is queued (at most 10 s).
func (fl *benchFleet) drain() {
	deadline := time.Now().Add(10 * time.Second)
	for len(fl.queue) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

func (fl *benchFleet) close() {
	fl.cancel()
	fl.wg.Wait()
	for _, c := range fl.conns {
		_ = c.Close()
	}
}
