package node

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/gameserver"
	"github.com/cassandranet/cassnet/pki"
)

// grpcBind is the IP the local game-server API listens on: GRPCBind, or
// loopback, because game servers talk to the node on their own VM (Bind
// when it is a loopback address, so that nodes sharing a host on
// 127.0.0.x do not collide).
func (c *Config) grpcBind() string {
	if c.GRPCBind != "" {
		return c.GRPCBind
	}
	if ip := net.ParseIP(c.Bind); ip != nil && ip.IsLoopback() {
		return c.Bind
	}
	return "127.0.0.1"
}

// newGameServer configures the local game-server API (package
// gameserver). It borrows the REST API's authentication and verification,
// so it comes after api.New; it is built before the REST API serves, which
// reads it through gameList.
func (n *Node) newGameServer(ident *pki.Identity) error {
	client, scheme := n.peerHTTP(ident)
	gs, err := gameserver.New(gameserver.Config{
		Authority: n.api, Applied: n.store.Applied(), Bans: n.state.Bans, Topics: topics{n.pubsub},
		Node: n.cfg.Name, Members: n.mesh, HTTPClient: client, Scheme: scheme,
		Store: n.store, Records: n.state.Servers, ReapGrace: n.cfg.GameServerReapGrace,
		Logger: n.logger.With("component", "gameserver"),
	})
	if err != nil {
		return fmt.Errorf("configure game-server api: %w", err)
	}
	if err := n.api.Registry().Register(gs.Collector()); err != nil {
		return fmt.Errorf("register game-server metrics: %w", err)
	}
	n.games = gs
	return nil
}

// serveGameServer serves the game-server API on the gRPC port.
func (n *Node) serveGameServer() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(n.cfg.grpcBind(), strconv.Itoa(n.cfg.GRPCPort)))
	if err != nil {
		return fmt.Errorf("listen on grpc port: %w", err)
	}
	n.gamesDone = make(chan struct{})
	go func() {
		defer close(n.gamesDone)
		if err := n.games.Serve(ln); err != nil {
			n.logger.Error("game-server api stopped", "err", err)
		}
	}()
	n.logger.Info("game-server api listening", "grpc", ln.Addr().String())
	return nil
}

// gameList adapts the game-server API to api.GameServers: api.New comes
// first, and n.games is set before the REST API serves.
type gameList struct{ n *Node }

// List implements api.GameServers.
func (g gameList) List(ctx context.Context, cred, tenant string, local bool) api.GameServerList {
	if g.n.games == nil {
		return api.GameServerList{}
	}
	return g.n.games.List(ctx, cred, tenant, local)
}

// Drain implements api.GameServers.
func (g gameList) Drain(ctx context.Context, cred, tenant, id string, local bool) bool {
	return g.n.games != nil && g.n.games.Drain(ctx, cred, tenant, id, local)
}

// gamesLeaving tells the game servers on this node to drain: the node is
// leaving.
func (n *Node) gamesLeaving() {
	if n.games != nil {
		n.games.Leaving()
	}
}

// stopGameServer stops the game-server API and waits for it.
func (n *Node) stopGameServer() {
	if n.games != nil {
		n.games.Stop()
	}
	if n.gamesDone != nil {
		<-n.gamesDone
	}
	n.logger.Debug("stopping: game-server api stopped")
}
