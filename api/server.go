package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
	"github.com/cassandranet/cassnet/session"
	"github.com/cassandranet/cassnet/state"
	"github.com/cassandranet/cassnet/webhook"

	"github.com/cassandranet/cassnet/ugc/blob"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server. Store, Members and Agent are required.
type Config struct {
	// Store is the replicated state: writes, reads and Raft status.
	Store Store
	// State is the domains whose replicated data the API reads, the
	// ones the Store's FSM applies.
	State *state.Domains
	// Members is the gossip membership, for /v1/members and metrics.
	Members Members
	// Agent is the local node, for operator actions such as leave.
	Agent Agent
	// Topics is topic messaging. Optional: without it the topic routes
	// answer 503.
	Topics Topics
	// GameServers is the game-server registry. Optional: without it the
	// server routes answer 503.
	GameServers GameServers
	// ServerKeys checks fleet servers' credentials (CN_KEY). Optional:
	// without it they are refused.
	ServerKeys ServerKeys
	// Fleets is this node's fleet agent: power actions and logs of the
	// servers it runs. Optional: without it those routes answer 503.
	Fleets FleetNode
	// JoinTokens makes join tokens. Optional: without it creating one
	// answers 503.
	JoinTokens JoinTokens
	// WebhookGuard is the SSRF policy webhook URLs are checked against
	// when they are created or changed (package webhook). Default: the
	// strict one (https, no private targets).
	WebhookGuard *webhook.Guard
	// Console is the embedded operator console (package console).
	// Optional: without it /ui/ and /docs/ answer 404 and session cookies
	// mean nothing.
	Console Console
	// UGC is the byte side of user-generated content (package ugc/blob).
	// Optional: without it the upload and download routes answer 503.
	UGC UGCBlobs
	// UGCCollectInterval is how often the node collects the unreferenced
	// UGC blobs it holds (the leader also those on s3). Zero:
	// DefaultUGCCollectInterval.
	UGCCollectInterval time.Duration
	// Seeding reports whether this node is still writing the cluster's
	// first state: a bootstrap node has printed an admin token whose hash
	// is not replicated yet. Until it is, an operator token the state does
	// not hold is answered as while catching up (a retryable 503, no
	// authentication failure recorded), so a client that uses the printed
	// token at once is told to retry, not that the token is wrong. It is
	// called on the request path and must not block. Nil means never.
	Seeding func() bool
	// PeerClient and PeerScheme ("http" or "https") reach other members'
	// REST APIs, for cluster-wide answers such as the metrics history.
	// Optional: without a client such answers hold this node only.
	PeerClient *http.Client
	PeerScheme string
	// HistoryInterval is how often the metrics history samples this
	// node's metrics. Default: DefaultHistoryInterval.
	HistoryInterval time.Duration
	// ClusterID names the cluster in snapshot archives; a restore of
	// another cluster's archive is refused unless forced.
	ClusterID string
	// Version is this build's version, reported by /v1/version.
	Version string
	// NodeName is this node's name, reported by /v1/health.
	NodeName string
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies. Default: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock used to decide whether bans are active, whether
	// credentials and sessions have expired, and to stamp session tokens.
	// Default: time.Now.
	Now func() time.Time
	// RateLimits limits mutating requests per API key, per tenant and per
	// operator token. The zero value limits nothing.
	RateLimits RateLimits
	// AuthFailureFlush and KeyTouchFlush are how often Run writes the
	// aggregated authentication failures and API key uses. Defaults:
	// DefaultAuthFailureFlush and DefaultKeyTouchFlush.
	AuthFailureFlush time.Duration
	KeyTouchFlush    time.Duration
	// Hooks runs the tenants' add-on hooks on this node's request paths
	// (ban, session and allocation creation), and their RPCs if it also
	// implements hooks.RPCs. If it is a prometheus.Collector its series
	// are registered. Default: hooks.Noop{}.
	Hooks hooks.Runner
	// Plugins reads an uploaded module's manifest before the upload is
	// proposed (package plugin's Runtime). Optional: without it plugin
	// uploads answer 503.
	Plugins PluginInspector
}

// PluginInspector compiles a module and reads its manifest.
//
// Concurrency: safe for concurrent use; Inspect honours ctx.
type PluginInspector interface {
	Inspect(ctx context.Context, sha256Hex string, module []byte) (plugin.Manifest, error)
}

// Server is the REST API of one node. The caller serves Handler() with its
// own http.Server and owns its lifecycle; it also runs Run, the one
// goroutine that flushes aggregated authentication failures and API key
// uses. A Server is safe for concurrent use.
type Server struct {
	// indexMemo is the X-Cass-Index header of the last index read.
	indexMemo indexMemo
	store     Store
	state     *state.Domains
	members   Members
	agent     Agent
	topics    Topics
	games     GameServers
	joinTok   JoinTokens
	console   Console
	// webhookGuard is Config.WebhookGuard.
	webhookGuard *webhook.Guard
	peers        *http.Client
	scheme       string
	history      *history
	version      string
	node         string
	// clusterID is Config.ClusterID.
	clusterID string
	log       *slog.Logger
	maxBody   int64
	now       func() time.Time

	reg     *prometheus.Registry
	metrics *metrics
	mux     *http.ServeMux
	handler http.Handler

	metricsHandler http.Handler

	limits     *rateLimiter
	failures   failureLog
	touches    keyTouches
	failFlush  time.Duration
	touchFlush time.Duration
	keyring    *session.Keyring
	verifier   *session.Cache
	streams    streamSet

	// serverKeys and fleets are Config.ServerKeys and Config.Fleets.
	serverKeys ServerKeys
	fleets     FleetNode
	ugc        UGCBlobs
	ugcGC      time.Duration
	seeding    func() bool
	downloads  downloadCounts
	hooks      hooks.Runner
	plugins    PluginInspector
}

// New builds a Server: its routes, its own Prometheus registry and its
// metrics. It starts nothing.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("api: Config.Store is required")
	case cfg.State == nil:
		return nil, errors.New("api: Config.State is required")
	case cfg.Members == nil:
		return nil, errors.New("api: Config.Members is required")
	case cfg.Agent == nil:
		return nil, errors.New("api: Config.Agent is required")
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("api: Config.MaxBodyBytes must not be negative")
	case cfg.AuthFailureFlush < 0 || cfg.KeyTouchFlush < 0 || cfg.HistoryInterval < 0:
		return nil, errors.New("api: flush intervals must not be negative")
	}
	s := &Server{
		store:        cfg.Store,
		state:        cfg.State,
		members:      cfg.Members,
		agent:        cfg.Agent,
		topics:       cfg.Topics,
		games:        cfg.GameServers,
		joinTok:      cfg.JoinTokens,
		console:      cfg.Console,
		webhookGuard: cfg.WebhookGuard,
		peers:        cfg.PeerClient,
		scheme:       cmp.Or(cfg.PeerScheme, "http"),
		history:      newHistory(cmp.Or(cfg.HistoryInterval, DefaultHistoryInterval)),
		version:      cfg.Version,
		node:         cfg.NodeName,
		clusterID:    cfg.ClusterID,
		log:          cfg.Logger,
		maxBody:      cfg.MaxBodyBytes,
		now:          cfg.Now,
		reg:          prometheus.NewRegistry(),

		limits:     newRateLimiter(cfg.RateLimits),
		failFlush:  cmp.Or(cfg.AuthFailureFlush, DefaultAuthFailureFlush),
		touchFlush: cmp.Or(cfg.KeyTouchFlush, DefaultKeyTouchFlush),
		keyring:    session.NewKeyring(),
		ugc:        cfg.UGC,
		ugcGC:      cmp.Or(cfg.UGCCollectInterval, DefaultUGCCollectInterval),
		seeding:    cfg.Seeding,
		hooks:      cfg.Hooks,
		plugins:    cfg.Plugins,
	}
	if s.hooks == nil {
		s.hooks = hooks.Noop{}
	}
	s.serverKeys, s.fleets = cfg.ServerKeys, cfg.Fleets
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	// Verified signatures are cached (session.Cache); expiry, the key,
	// revocations and bans are still checked on every call.
	s.verifier = session.NewCache(session.NewVerifier(s.publicKey, s.now), session.DefaultCacheSize, s.now)
	m, err := newMetrics(s.reg, s.store, s.members, s.version)
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		result string
		f      func() float64
	}{
		{"hit", func() float64 { h, _ := s.verifier.Stats(); return float64(h) }},
		{"miss", func() float64 { _, m := s.verifier.Stats(); return float64(m) }},
	} {
		if err := s.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cassnet_session_verify_cache_total", ConstLabels: prometheus.Labels{"result": c.result},
			Help: "Session token verifications answered from the verified-signature cache (hit) or verified in full (miss).",
		}, c.f)); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}
	s.metrics = m
	if c, ok := s.hooks.(prometheus.Collector); ok {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: register plugin metrics: %w", err)
		}
	}
	s.metricsHandler = promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})

	mux := http.NewServeMux()
	for i := range routes {
		rt := &routes[i]
		mux.Handle(rt.pattern(), s.wrap(rt.pattern(), rt))
	}
	if s.console != nil {
		for i := range consoleRoutes {
			rt := &consoleRoutes[i]
			mux.Handle(rt.pattern(), s.wrap(rt.pattern(), rt))
		}
	}
	if s.ugc != nil { // signed URLs: the blob service checks them itself
		h := s.ugc.Handler()
		mux.Handle(blob.UploadsPath, h)
		mux.Handle(blob.BlobsPath, h)
	}
	// Anything the table does not match ends here, for JSON 404s and 405s.
	mux.Handle("/", s.wrap(unmatchedRoute, &route{method: "GET", path: "/", access: public, handle: (*Server).handleUnmatched}))
	s.mux, s.handler = mux, mux
	if s.console != nil {
		s.handler = s.sessionBridge(mux)
	}
	return s, nil
}

// Handler is the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry is this server's Prometheus registry, served at /metrics. It
// holds the API's metrics plus the Go and process collectors. Other
// packages may register their own collectors on it.
func (s *Server) Registry() *prometheus.Registry { return s.reg }
