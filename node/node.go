package node

import (
	"context"
	"errors"
	"fmt"
	"github.com/cassandranet/cassnet/plugin"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/fleet"
	"github.com/cassandranet/cassnet/gameserver"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/pubsub"
	"github.com/cassandranet/cassnet/state"
)

// leaveTimeout bounds a graceful leave.
const leaveTimeout = 20 * time.Second

// Node is one running cassnet agent: mesh, consensus and the REST API.
type Node struct {
	cfg      Config
	id       string
	logger   *slog.Logger
	out      io.Writer
	explicit map[string]bool

	mesh  *mesh.Mesh
	store *consensus.Store
	state *state.Domains // the domains the store's FSM applies
	// ugc is the UGC blob service, once runUGC has built it; ugcPeers and
	// ugcScheme reach other nodes' REST APIs, for proxied downloads.
	ugc       *ugcBlobs
	ugcPeers  *http.Client
	ugcScheme string
	pubsub    *pubsub.Service
	api       *api.Server
	http      *http.Server

	fleet       *fleet.Agent       // fleets: the controller and this node's processes
	fleetCancel context.CancelFunc // stops fleet.Run
	fleetDone   chan struct{}      // closed when it has returned

	games     *gameserver.Server // the local game-server gRPC API
	gamesDone chan struct{}      // closed when its Serve has returned

	joinToken  string
	adminToken string
	// seeding is true from the start of a bootstrap node holding an admin
	// token until seedAdminToken has replicated it (api.Config.Seeding).
	seeding  atomic.Bool
	token    pki.Token // joinToken, parsed
	ca       *pki.CA   // set once the node has its TLS material
	peerID   string    // libp2p peer ID, bound by the node certificate
	httpCert *httpCert // --http-tls-cert/--http-tls-key, or nil

	leaveOnce sync.Once
	leaveCh   chan struct{}

	apiCancel context.CancelFunc // stops api.Server.Run
	apiDone   chan struct{}      // closed when it has returned

	trustCancel context.CancelFunc // stops certificate renewal and keyring sync
	trustWG     sync.WaitGroup     // those two loops

	webhooks *webhookRunner // the webhook deliverer (webhooks.go)

	snapCancel context.CancelFunc // stops the snapshot agent
	snapDone   chan struct{}      // closed when it has returned

	notifyCancel context.CancelFunc // stops notifyWhenReady
	notifyDone   chan struct{}      // closed when it has returned

	plugins       *plugin.Runtime    // the Wasm plugin runtime
	pluginsCancel context.CancelFunc // stops its loader
	pluginsDone   chan struct{}      // closed when it has returned
}

// New prepares a node from cfg. explicit names the flags the operator set
// (flag names such as "bind"); the rest come from the data dir if it has
// been used before. out receives the one-time token banner. New creates
// the data dir and identity but starts no listener.
func New(cfg Config, explicit map[string]bool, out io.Writer) (*Node, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("--data-dir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	id, err := mergePersisted(&cfg, explicit)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.resolveAdvertise(context.Background()); err != nil {
		return nil, err
	}
	var hc *httpCert
	if cfg.HTTPTLSCert != "" {
		if hc, err = loadHTTPCert(cfg.HTTPTLSCert, cfg.HTTPTLSKey, cfg.Logger.With("node", cfg.Name).Warn); err != nil {
			return nil, err
		}
	}
	if id == "" {
		if id, err = newNodeID(); err != nil {
			return nil, fmt.Errorf("generate node id: %w", err)
		}
	}
	if err := savePersisted(&cfg, id); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg: cfg, id: id, out: out, explicit: explicit,
		logger:   cfg.Logger.With("node", cfg.Name),
		leaveCh:  make(chan struct{}),
		httpCert: hc,
	}
	if err := n.installOperatorPKI(); err != nil {
		return nil, err
	}
	if err := n.loadTokens(); err != nil {
		return nil, err
	}
	return n, nil
}

// loadTokens reads or creates the join and admin tokens.
func (n *Node) loadTokens() error {
	joinPath := filepath.Join(n.cfg.DataDir, joinTokenFile)
	onDisk, err := readSecretFile(joinPath)
	if err != nil {
		return err
	}
	n.joinToken = n.cfg.Token
	if n.joinToken == "" {
		n.joinToken = onDisk
	}
	fresh := false
	if n.joinToken == "" {
		if !n.cfg.Bootstrap {
			return errors.New("no join token: pass --token (or CASS_TOKEN) or --token-file with the cluster's join token")
		}
		if n.joinToken, err = n.bootstrapToken(); err != nil {
			return fmt.Errorf("generate join token: %w", err)
		}
		fresh = true
	}
	if n.token, err = pki.ParseToken(n.joinToken); err != nil {
		return fmt.Errorf("join token: %w (tokens look like CN1::<cluster>::<CA fingerprint>::<secret>)", err)
	}
	if n.joinToken != onDisk {
		if err := writeFileAtomic(joinPath, []byte(n.joinToken+"\n")); err != nil {
			return err
		}
	}
	if n.cfg.WriteJoinToken != "" {
		if err := writeFileAtomic(n.cfg.WriteJoinToken, []byte(n.joinToken+"\n")); err != nil {
			return fmt.Errorf("--write-join-token: %w", err)
		}
	}
	adminPath := filepath.Join(n.cfg.DataDir, adminTokenFile)
	if n.adminToken, err = readSecretFile(adminPath); err != nil {
		return err
	}
	if n.adminToken == "" && n.cfg.Bootstrap && fresh {
		tok, _, _, err := api.NewOperatorToken()
		if err != nil {
			return fmt.Errorf("generate admin token: %w", err)
		}
		if err := writeFileAtomic(adminPath, []byte(tok+"\n")); err != nil {
			return err
		}
		n.adminToken = tok
		fmt.Fprintf(n.out, "Bootstrapped a new cluster. These are shown once; they are also in %s (mode 0600).\n", n.cfg.DataDir)
		fmt.Fprintf(n.out, "  admin-token: %s\n  join-token:  %s\n", tok, n.joinToken)
	}
	return nil
}

// ID is the node's stable identifier (its Raft server ID).
func (n *Node) ID() string { return n.id }

func (n *Node) addr(port int) string {
	return net.JoinHostPort(n.cfg.Bind, strconv.Itoa(port))
}

func (n *Node) advertised(port int) string {
	return net.JoinHostPort(n.cfg.advertiseIP(), strconv.Itoa(port))
}

// startAPIBackground runs the API's flush loop (aggregated authentication
// failures and API key uses) until stopAPIBackground.
func (n *Node) startAPIBackground(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	n.apiCancel, n.apiDone = cancel, make(chan struct{})
	go func() {
		defer close(n.apiDone)
		done := make(chan struct{})
		go func() { defer close(done); n.shareLoad(ctx) }()
		ugcDone := make(chan struct{})
		go func() { defer close(ugcDone); n.runUGC(ctx) }()
		_ = n.api.Run(ctx)
		<-done
		<-ugcDone
	}()
}

// stopAPIBackground stops the flush loop and the load sharing, and
// waits for them.
func (n *Node) stopAPIBackground() {
	if n.apiCancel == nil {
		return
	}
	n.apiCancel()
	<-n.apiDone
}
