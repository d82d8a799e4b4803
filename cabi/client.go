package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// config is cn_config in Go.
type config struct {
	node, key, server, project, address string
	port, capacity                      uint32
	timeout                             time.Duration
	ports                               map[string]uint32 // CN_PORT_<NAME>, lower-cased names
	fleet                               string            // CN_FLEET; the node binds the fleet by server id
}

// eventFn and messageFn are the C callbacks, wrapped by exports.go.
type (
	eventFn   func(kind int, player, reason, banID, allocation string)
	messageFn func(topic, id string, payload []byte)
)

// Event kinds, as cn_event_kind.
const (
	evKick         = 1
	evDrain        = 2
	evNodeLeaving  = 3
	evDisconnected = 4
	evReconnected  = 5
	evAllocated    = 6
)

// client is one cn_handle: a connection to the node and the goroutines
// that serve it. Methods are safe for concurrent use.
type client struct {
	cfg  config
	conn *grpc.ClientConn
	rpc  cassnetv1.GameServerServiceClient

	ctx    context.Context // ends at shutdown; carries the API key
	cancel context.CancelFunc
	wg     sync.WaitGroup

	session atomic.Pointer[cassnetv1.ServerSession]
	bans    atomic.Pointer[map[string]int64] // player -> expiry (unix ms, 0 = never)
	linkUp  atomic.Bool
	onEvent atomic.Pointer[eventFn]

	mu      sync.Mutex
	players map[string]string // connected player -> token, re-sent after a reconnect
	labels  map[string]string // set by cn_set_label, re-sent after a reconnect
	alloc   allocation        // the allocation held, from the last Allocated event
	lastErr string
}

// allocation is the allocation a server holds, as its events told it.
type allocation struct {
	id          string
	annotations map[string]string
}

// newClient connects, registers the server and starts the event and
// health streams.
func newClient(cfg config) (*client, int, error) {
	conn, err := grpc.NewClient("passthrough:///"+cfg.node,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, stInvalidArgument, fmt.Errorf("node address %q: %w", cfg.node, err)
	}
	c := &client{cfg: cfg, conn: conn, rpc: cassnetv1.NewGameServerServiceClient(conn), players: map[string]string{}, labels: map[string]string{}}
	c.ctx, c.cancel = context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+cfg.key))
	empty := map[string]int64{}
	c.bans.Store(&empty)
	if err := c.register(); err != nil {
		c.cancel()
		_ = conn.Close()
		return nil, codeStatus(err), fmt.Errorf("register with node %s: %w", cfg.node, err)
	}
	ready := make(chan struct{})
	c.wg.Add(2)
	go c.watch(ready)
	go c.health()
	select { // the first ban set, so cn_is_banned is right from the start
	case <-ready:
	case <-time.After(cfg.timeout):
	}
	return c, stOK, nil
}

// call is a context for one RPC: the client's, with its timeout.
func (c *client) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, c.cfg.timeout)
}

func (c *client) register() error {
	ctx, cancel := c.call()
	defer cancel()
	c.mu.Lock()
	labels := make(map[string]string, len(c.labels))
	for k, v := range c.labels {
		labels[k] = v
	}
	c.mu.Unlock()
	req := &cassnetv1.RegisterRequest{ServerId: c.cfg.server, ProjectId: c.cfg.project,
		Address: c.cfg.address, Capacity: c.cfg.capacity, Labels: labels}
	if c.cfg.port != 0 || len(c.cfg.ports) > 0 {
		req.Ports = make(map[string]uint32, len(c.cfg.ports)+1)
		for k, v := range c.cfg.ports {
			req.Ports[k] = v
		}
		if c.cfg.port != 0 {
			req.Ports["game"] = c.cfg.port
		}
	}
	res, err := c.rpc.Register(ctx, req)
	if err != nil {
		return err
	}
	c.session.Store(res.GetSession())
	return nil
}

// setErr records the handle's last error and returns st.
func (c *client) setErr(st int, format string, args ...any) int {
	c.mu.Lock()
	c.lastErr = fmt.Sprintf(format, args...)
	c.mu.Unlock()
	return st
}

func (c *client) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// rpcErr records err and maps it to a status.
func (c *client) rpcErr(op string, err error) int {
	return c.setErr(codeStatus(err), "%s: %v", op, err)
}

func (c *client) setState(s cassnetv1.ServerState) int {
	ctx, cancel := c.call()
	defer cancel()
	_, err := c.rpc.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: c.cfg.server, State: s})
	if err != nil {
		return c.rpcErr("set state", err)
	}
	if s == cassnetv1.ServerState_SERVER_STATE_READY {
		c.mu.Lock()
		c.alloc = allocation{} // the match is over
		c.mu.Unlock()
	}
	return stOK
}

func (c *client) setLabel(k, v string, remove bool) int {
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.SetLabel(ctx, &cassnetv1.SetLabelRequest{ServerId: c.cfg.server, Key: k, Value: v, Remove: remove}); err != nil {
		return c.rpcErr("set label", err)
	}
	c.mu.Lock()
	if remove {
		delete(c.labels, k)
	} else {
		c.labels[k] = v
	}
	c.mu.Unlock()
	return stOK
}

func (c *client) reserve(seconds uint32) int {
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.Reserve(ctx, &cassnetv1.ReserveRequest{ServerId: c.cfg.server, Seconds: seconds}); err != nil {
		return c.rpcErr("reserve", err)
	}
	return stOK
}

func (c *client) allocate() int {
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.Allocate(ctx, &cassnetv1.AllocateRequest{ServerId: c.cfg.server}); err != nil {
		return c.rpcErr("allocate", err)
	}
	return stOK
}

// annotation answers from the last Allocated event.
func (c *client) annotation(k string) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.alloc.annotations[k]
	if !ok {
		return "", stNotFound
	}
	return v, stOK
}

// authenticate verifies a player through PlayerConnect.
func (c *client) authenticate(token string) (*cassnetv1.VerifySessionResponse, int) {
	ctx, cancel := c.call()
	defer cancel()
	res, err := c.rpc.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: c.cfg.server, Token: token})
	if err != nil {
		return nil, c.rpcErr("authenticate", err)
	}
	if !res.GetValid() {
		return res, c.setErr(reasonStatus(res.GetReason()), "session refused: %s", res.GetReason())
	}
	c.mu.Lock()
	c.players[res.GetPlayerId()] = token
	c.mu.Unlock()
	return res, stOK
}

// isBanned answers from the cache: no lock, no network.
func (c *client) isBanned(player string) (bool, int) {
	exp, ok := (*c.bans.Load())[player]
	banned := ok && (exp == 0 || exp > time.Now().UnixMilli())
	if !c.linkUp.Load() {
		return banned, c.setErr(stStale, "the link to the node is down: the ban cache may be stale")
	}
	return banned, stOK
}

func (c *client) disconnect(player string) int {
	c.mu.Lock()
	delete(c.players, player)
	c.mu.Unlock()
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.PlayerDisconnect(ctx, &cassnetv1.PlayerDisconnectRequest{ServerId: c.cfg.server, PlayerId: player}); err != nil {
		return c.rpcErr("player disconnect", err)
	}
	return stOK
}

func (c *client) metric(name string, v float64, labels map[string]string) int {
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.ReportMetric(ctx, &cassnetv1.ReportMetricRequest{ServerId: c.cfg.server, Name: name, Value: v, Labels: labels}); err != nil {
		return c.rpcErr("send metric", err)
	}
	return stOK
}

func (c *client) publish(topic string, payload []byte) int {
	ctx, cancel := c.call()
	defer cancel()
	if _, err := c.rpc.Publish(ctx, &cassnetv1.PublishRequest{Topic: topic, Payload: payload}); err != nil {
		return c.rpcErr("publish", err)
	}
	return stOK
}

// shutdown unregisters the server (best effort), stops every goroutine of
// the client and closes the connection.
func (c *client) shutdown() int {
	st := c.setState(cassnetv1.ServerState_SERVER_STATE_SHUTDOWN)
	c.cancel()
	c.wg.Wait()
	_ = c.conn.Close()
	if st == stUnavailable {
		return stOK // the node is gone: nothing to unregister from
	}
	return st
}
