package testnet

import (
	"context"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// simServer is one simulated game server of the allocation workload: a
// gRPC client of its node's GameServerService that registers, pings
// Health every second, sends Ready, and plays each allocation it learns of
// for a short match before sending Ready again. When its session breaks
// (the node was killed, paused past the stream, restarted) it registers
// again, as a real game server would, finishing first a match that was
// going on.
type simServer struct {
	w      *AllocWorkload
	id     string
	node   *Node
	notify chan string // allocation ids, from the matchmakers

	// Owned by run's goroutine.
	played  map[string]bool
	current string    // the allocation being played, "" when idle
	ends    time.Time // when the current match ends
}

// tell hands the server an allocation a matchmaker was answered with.
func (s *simServer) tell(id string) {
	select {
	case s.notify <- id:
	default: // the poll finds it
	}
}

// GRPCAddr is the node's game-server API address.
func (n *Node) GRPCAddr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.GRPC)) }

// run keeps the server registered until ctx ends.
func (s *simServer) run(ctx context.Context) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.id))
	rng := mrand.New(mrand.NewPCG(s.w.target.Seed, h.Sum64()))
	for ctx.Err() == nil {
		_ = s.session(ctx, rng) // every error means: reconnect and register again
		sleepCtx(ctx, 300*time.Millisecond)
	}
}

// session is one registration: it returns when the connection, the
// Health stream or an RPC fails, or ctx ends.
func (s *simServer) session(ctx context.Context, rng *mrand.Rand) error {
	conn, err := grpc.NewClient("passthrough:///"+s.node.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", s.node.Name, err)
	}
	defer conn.Close()
	gs := cassnetv1.NewGameServerServiceClient(conn)
	sctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+s.w.gsKey))
	defer cancel()

	rctx, rcancel := context.WithTimeout(sctx, 5*time.Second)
	_, err = gs.Register(rctx, &cassnetv1.RegisterRequest{
		ServerId: s.id, ProjectId: allocProject, Address: s.node.IP,
		Ports: map[string]uint32{"game": 7777}, Labels: map[string]string{allocLabelKey: allocLabelValue}, Capacity: 8,
	})
	rcancel()
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	hs, err := gs.Health(sctx)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	go func() { // ends with sctx; a failed send ends the session
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if hs.Send(&cassnetv1.HealthPing{ServerId: s.id}) != nil {
				cancel()
				return
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	// A match that was going on when the last session broke ends first;
	// otherwise the fresh registration joins the pool.
	if s.current != "" {
		if err := s.finish(sctx, gs); err != nil {
			return err
		}
	} else if err := s.ready(sctx, gs, "registered", ""); err != nil {
		return err
	}
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	for {
		select {
		case <-sctx.Done():
			return sctx.Err()
		case id := <-s.notify:
			s.learn(id, rng)
		case <-poll.C:
			if id := s.poll(sctx); id != "" {
				s.learn(id, rng)
			}
		}
		if s.current != "" {
			if err := s.finish(sctx, gs); err != nil {
				return err
			}
		}
	}
}

// learn starts a match for allocation id, unless it was played already.
func (s *simServer) learn(id string, rng *mrand.Rand) {
	if id == "" || s.played[id] || s.current != "" {
		return
	}
	s.played[id] = true
	span := s.w.MatchMax - s.w.MatchMin
	s.current, s.ends = id, time.Now().Add(s.w.MatchMin+time.Duration(rng.Int64N(int64(span))))
}

// finish waits for the current match to end, then returns the server to
// the pool.
func (s *simServer) finish(ctx context.Context, gs cassnetv1.GameServerServiceClient) error {
	if !sleepCtx(ctx, time.Until(s.ends)) {
		return ctx.Err()
	}
	after := s.current
	s.current = ""
	return s.ready(ctx, gs, "match", after)
}

// ready records one return to ready (at the first attempt) and sends
// Ready once; a failure ends the session.
func (s *simServer) ready(ctx context.Context, gs cassnetv1.GameServerServiceClient, why, after string) error {
	i := s.w.addReturn(AllocReturn{Server: s.id, At: s.w.target.Clock.Now(), Node: s.node.Name, Why: why, After: after})
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := gs.Ready(rctx, &cassnetv1.ReadyRequest{ServerId: s.id}); err != nil {
		// The caller registers again (a restarted node answers NotFound)
		// and sends Ready then, as a new return.
		return fmt.Errorf("ready: %w", err)
	}
	s.w.ackReturn(i)
	return nil
}

// poll returns the server's newest allocation in its node's replica if
// the server has not played it: an allocation whose answers were all
// lost still reaches its server.
func (s *simServer) poll(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	path := "/v1/tenants/" + s.w.Tenant + "/allocations?server_id=" + s.id + "&limit=1&stale"
	resp, err := s.w.mm.Do(ctx, http.MethodGet, s.node.HTTPAddr(), path, nil)
	if err != nil || resp.Status != http.StatusOK {
		return ""
	}
	var list struct {
		Allocations []struct {
			ID string `json:"allocation_id"`
		} `json:"allocations"`
	}
	if resp.JSON(&list) != nil || len(list.Allocations) == 0 || s.played[list.Allocations[0].ID] {
		return ""
	}
	return list.Allocations[0].ID
}
