package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pubsub"
	"github.com/cassandranet/cassnet/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Run starts every part of the node and blocks until ctx is cancelled
// (SIGTERM, SIGINT) or a leave is requested through the API.
//
// A leave request, or a cancelled ctx with LeaveOnTerminate, leaves the
// cluster gracefully: it hands over leadership, leaves the Raft
// configuration and the gossip pool, then stops. A cancelled ctx alone
// only stops: the node hands over leadership but keeps its Raft seat and
// its gossip identity, and peers see it fail, exactly as after a crash,
// so autopilot keeps its seat (a failed voter is only replaced by a
// healthy non-voter, after --dead-server-grace). Restarted on its data
// dir it resumes as the voter it was. That is what makes a rolling
// restart safe (docs/operations.md).
func (n *Node) Run(ctx context.Context) error {
	defer n.applyGCPercent()()
	if err := n.start(ctx); err != nil {
		n.stop()
		return err
	}
	select {
	case <-ctx.Done():
		n.sdNotify("STOPPING=1\nSTATUS=stopping")
		if n.cfg.LeaveOnTerminate {
			n.logger.Info("signal received: leaving the cluster (--leave-on-terminate)")
			n.leave()
		} else {
			n.logger.Info("signal received: stopping; this node keeps its raft seat (cassnet leave removes it)")
			n.handOff()
		}
	case <-n.leaveCh:
		n.sdNotify("STOPPING=1\nSTATUS=leaving the cluster")
		n.logger.Info("leave requested: leaving the cluster")
		n.leave()
	}
	n.stop()
	return nil
}

func (n *Node) start(ctx context.Context) error {
	cfg := n.cfg
	seeds := make([]string, 0, len(cfg.Join))
	for _, s := range cfg.Join {
		seeds = append(seeds, withPort(s, DefaultGossipPort))
	}
	p2pKey, p2pID, err := pubsub.LoadIdentity(filepath.Join(cfg.DataDir, pubsub.IdentityFile))
	if err != nil {
		return fmt.Errorf("load p2p identity: %w", err)
	}
	n.peerID = p2pID.String() // before any CSR: certificates bind it
	meta := mesh.Meta{
		Name: cfg.Name, ID: n.id, Role: mesh.RoleServer, Version: cfg.Version,
		RaftAddr: n.advertised(cfg.RaftPort), HTTPAddr: n.advertised(cfg.HTTPPort),
		P2PAddr: n.advertised(cfg.P2PPort), GRPCAddr: n.advertised(cfg.GRPCPort),
		PeerID: p2pID.String(), Labels: mesh.EncodeLabels(cfg.NodeLabels), Fleets: len(cfg.FleetAllow) > 0,
	}
	// TLS material and gossip keys: from the data dir, or from a seed
	// through the join handshake (node/trust.go).
	ident, err := n.loadIdentity()
	if err != nil {
		return fmt.Errorf("load tls identity: %w", err)
	}
	if ident == nil {
		if ident, err = n.joinCluster(ctx, seeds); err != nil {
			return fmt.Errorf("join: %w", err)
		}
	}
	gossipKeys, err := n.loadGossipKeys()
	if err != nil && n.cfg.TLSCert != "" { // operator PKI: fetch the keyring from a seed
		gossipKeys, err = n.fetchGossipKeys(ctx, seeds, ident)
	}
	if err != nil {
		return err
	}
	m, err := mesh.New(mesh.Config{
		Name: cfg.Name, NodeID: n.id,
		BindAddr: cfg.Bind, BindPort: cfg.GossipPort,
		AdvertiseAddr: cfg.advertiseIP(), AdvertisePort: cfg.GossipPort,
		Meta: meta, JoinToken: n.joinToken, Keys: gossipKeys, Seeds: seeds,
		JoinHandler:       n.joinHandler(ctx, ident),
		PeersFile:         filepath.Join(cfg.DataDir, "peers.json"),
		ReconnectInterval: cfg.ReconnectInterval,
		Logger:            n.logger.With("component", "mesh"),
	})
	if err != nil {
		return fmt.Errorf("configure mesh: %w", err)
	}
	n.mesh = m
	n.checkPeerBinding(ident)
	if n.pubsub, err = n.newPubSub(p2pKey, m, ident); err != nil {
		return err
	}
	n.state = state.New()
	store, err := consensus.New(consensus.Config{
		Modules:    n.state.Modules(),
		NewModules: func() []consensus.Module { return state.New().Modules() },
		AutopilotSettings: func() consensus.AutopilotOverrides {
			return n.state.Settings.Get().Autopilot()
		},
		NodeID: n.id, DataDir: cfg.DataDir,
		BindAddr: n.addr(cfg.RaftPort), AdvertiseAddr: n.advertised(cfg.RaftPort),
		JoinToken: n.preambleKey(), TLS: n.consensusTLS(ctx, ident),
		Bootstrap: cfg.Bootstrap, Members: m,
		Autopilot: consensus.AutopilotConfig{
			Voters:            cfg.Voters,
			StabilizationTime: cfg.StabilizationTime,
			DeadServerGrace:   cfg.DeadServerGrace,
		},
		SnapshotThreshold: cfg.SnapshotThreshold,
		TrailingLogs:      cfg.TrailingLogs,
		LogStore:          cfg.RaftLogStore,
		SnapshotInterval:  cfg.SnapshotInterval,
		Logger:            n.logger,

		UnsafeAckBeforeCommit: cfg.UnsafeAckBeforeCommit,
	})
	if err != nil {
		return fmt.Errorf("configure consensus: %w", err)
	}
	n.store = store
	if cfg.UnsafeAckBeforeCommit {
		n.logger.Warn("TEST ONLY: --unsafe-ack-before-commit is set; acknowledged writes can be lost")
	}
	con, err := n.newConsole()
	if err != nil {
		return err
	}
	if err := n.newFleet(); err != nil {
		return err
	}
	peerClient, peerScheme := n.peerHTTP(ident)
	n.ugcPeers, n.ugcScheme, n.ugc = peerClient, peerScheme, newUGCBlobs()
	if n.plugins, err = n.newPlugins(ctx); err != nil {
		return fmt.Errorf("configure plugins: %w", err)
	}
	n.seeding.Store(cfg.Bootstrap && n.adminToken != "") // until seedClusterState has replicated it
	srv, err := api.New(api.Config{
		Hooks: n.plugins, Plugins: n.plugins,
		ServerKeys: n.fleet, Fleets: n.fleet,
		Store: store, State: n.state, Members: m, Agent: n, Topics: topics{n.pubsub}, JoinTokens: n,
		Version: cfg.Version, NodeName: cfg.Name, GameServers: gameList{n},
		ClusterID: n.clusterID(),
		Console:   con, PeerClient: peerClient, PeerScheme: peerScheme,
		Logger:             n.logger.With("component", "api"),
		RateLimits:         cfg.RateLimits,
		WebhookGuard:       cfg.webhookGuard(),
		UGC:                n.ugc,
		UGCCollectInterval: cfg.UGC.GCInterval,
		Seeding:            n.seeding.Load,
	})
	if err != nil {
		return fmt.Errorf("configure api: %w", err)
	}
	n.api = srv
	if err := n.newGameServer(ident); err != nil { // borrows the API's auth
		return err
	}
	if err := n.newWebhooks(); err != nil {
		return err
	}
	if err := srv.Registry().Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "cassnet_mesh_suspicions_total",
		Help: "Failed probes of other members by this node (memberlist suspicions, false or not).",
	}, func() float64 { return float64(n.mesh.Suspicions()) })); err != nil {
		return fmt.Errorf("register mesh metrics: %w", err)
	}
	if err := n.pubsub.RegisterMetrics(srv.Registry()); err != nil {
		return err
	}

	// Raft listens first, so that by the time gossip announces this node
	// its Raft address answers.
	if err := store.Start(ctx); err != nil {
		return fmt.Errorf("start consensus: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("start mesh: %w", err)
	}
	if err := n.pubsub.Start(ctx); err != nil { // after the mesh: it needs members
		return fmt.Errorf("start pubsub: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.httpBind(), strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		return fmt.Errorf("listen on http port: %w", err)
	}
	scheme := "http://"
	if cfg.HTTPTLS {
		conf := ident.HTTPSConfig()
		if n.httpCert != nil {
			base := conf
			conf = n.httpCert.serverConfig()
			conf.ClientAuth, conf.ClientCAs = base.ClientAuth, base.ClientCAs // client certificates from the cluster CA
		}
		ln, scheme = tls.NewListener(ln, conf), "https://"
	}
	n.http = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	n.http.RegisterOnShutdown(srv.CloseStreams)
	go func() {
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("http server stopped", "err", err)
		}
	}()
	n.startAPIBackground(ctx)
	n.startPlugins(ctx)
	if err := n.serveGameServer(); err != nil {
		return err
	}
	n.startFleet(ctx)
	n.startTrust(ctx, ident)
	n.startSnapshotAgent(ctx)
	n.startWebhooks(ctx)
	nctx, ncancel := context.WithCancel(ctx)
	n.notifyCancel, n.notifyDone = ncancel, make(chan struct{})
	go n.notifyWhenReady(nctx)
	n.logger.Info("node started", "id", n.id,
		"http", scheme+ln.Addr().String(), "gossip", n.addr(cfg.GossipPort),
		"raft", n.addr(cfg.RaftPort), "bootstrap", cfg.Bootstrap)
	if cfg.Bootstrap {
		go n.seedClusterState(ctx)
	}
	return nil
}

// Leave implements api.Agent: it asks Run to leave and stop.
func (n *Node) Leave(context.Context) error {
	n.leaveOnce.Do(func() { close(n.leaveCh) })
	return nil
}

// leave performs the graceful part of stopping.
func (n *Node) leave() {
	n.stopFleet() // while it can still propose: its records go too
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	n.gamesLeaving()
	if n.store != nil {
		if err := n.store.Leave(ctx); err != nil {
			n.logger.Warn("leaving raft failed", "err", err)
		}
	}
	if n.mesh != nil {
		if err := n.mesh.Leave(ctx); err != nil {
			n.logger.Warn("leaving gossip failed", "err", err)
		}
	}
}

// handOff is the graceful part of a stop that keeps the node's seat: it
// refuses new requests and hands leadership over. Game servers are not
// told to drain: the node is coming back.
func (n *Node) handOff() {
	n.stopFleet() // while it can still propose: its records go too
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if n.store != nil {
		if err := n.store.HandOff(ctx); err != nil {
			n.logger.Warn("handing over leadership failed", "err", err)
		}
	}
}

// stop shuts every part down, in reverse order of start.
func (n *Node) stop() {
	n.stopWebhooks()
	n.stopSnapshotAgent()
	if n.notifyCancel != nil {
		n.notifyCancel()
		<-n.notifyDone
	}
	n.stopTrust()
	n.stopFleet()      // its processes go before the game-server API they talk to
	n.stopGameServer() // before the API it borrows from
	n.stopAPIBackground()
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.http.Shutdown(ctx)
		cancel()
	}
	n.stopPlugins() // after the HTTP server: no request calls a hook now
	n.logger.Debug("stopping: http stopped")
	if n.pubsub != nil { // before the mesh it takes its peers from
		if err := n.pubsub.Stop(); err != nil {
			n.logger.Warn("pubsub shutdown", "err", err)
		}
	}
	n.logger.Debug("stopping: pubsub stopped")
	if n.store != nil {
		if err := n.store.Shutdown(); err != nil {
			n.logger.Warn("consensus shutdown", "err", err)
		}
	}
	n.logger.Debug("stopping: consensus stopped")
	if n.mesh != nil {
		if err := n.mesh.Shutdown(); err != nil {
			n.logger.Warn("mesh shutdown", "err", err)
		}
	}
	n.logger.Info("node stopped")
}
