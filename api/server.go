package api

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server. Store, Members and Agent are required.
type Config struct {
	// Store is the replicated state: writes, reads and Raft status.
	Store Store
	// Members is the gossip membership, for /v1/members and metrics.
	Members Members
	// Agent is the local node, for operator actions such as leave.
	Agent Agent
	// Version is this build's version, reported by /v1/version.
	Version string
	// NodeName is this node's name, reported by /v1/health.
	NodeName string
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies. Default: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock used to decide whether bans are active. Default:
	// time.Now.
	Now func() time.Time
}

// Server is the REST API of one node. It holds no goroutines: the caller
// serves Handler() with its own http.Server and owns its lifecycle.
// A Server is safe for concurrent use.
type Server struct {
	store   Store
	members Members
	agent   Agent
	version string
	node    string
	log     *slog.Logger
	maxBody int64
	now     func() time.Time

	reg     *prometheus.Registry
	metrics *metrics
	mux     *http.ServeMux
	handler http.Handler

	metricsHandler http.Handler
}

// New builds a Server: its routes, its own Prometheus registry and its
// metrics. It starts nothing.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("api: Config.Store is required")
	case cfg.Members == nil:
		return nil, errors.New("api: Config.Members is required")
	case cfg.Agent == nil:
		return nil, errors.New("api: Config.Agent is required")
	case cfg.MaxBodyBytes < 0:
		return nil, errors.New("api: Config.MaxBodyBytes must not be negative")
	}
	s := &Server{
		store:   cfg.Store,
		members: cfg.Members,
		agent:   cfg.Agent,
		version: cfg.Version,
		node:    cfg.NodeName,
		log:     cfg.Logger,
		maxBody: cfg.MaxBodyBytes,
		now:     cfg.Now,
		reg:     prometheus.NewRegistry(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	m, err := newMetrics(s.reg, s.store, s.members, s.version)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.metricsHandler = promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	})

	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.pattern(), s.wrap(rt.pattern(), rt.access, rt.handle))
	}
	// Anything the table does not match ends here, for JSON 404s and 405s.
	mux.Handle("/", s.wrap(unmatchedRoute, public, (*Server).handleUnmatched))
	s.mux, s.handler = mux, mux
	return s, nil
}

// Handler is the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry is this server's Prometheus registry, served at /metrics. It
// holds the API's metrics plus the Go and process collectors. Other
// packages may register their own collectors on it.
func (s *Server) Registry() *prometheus.Registry { return s.reg }
