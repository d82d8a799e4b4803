package gameserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/servers"
)

// DefaultHealthInterval is how often a server should ping Health. It is
// marked unhealthy after three intervals without a ping.
const DefaultHealthInterval = 2 * time.Second

// Authority is the REST API's authentication and session checks, as this
// package borrows them. *api.Server implements it. All methods are safe
// for concurrent use.
type Authority interface {
	// Authenticate identifies the holder of a credential; errors wrap
	// api.ErrUnauthenticated.
	Authenticate(cred string) (api.Principal, error)
	// VerifySession is POST /v1/sessions/verify's answer, counted in its
	// metrics.
	VerifySession(p api.Principal, token string) api.VerifyResult
	// CheckSession is the same verification, not counted (re-checks of
	// connected players).
	CheckSession(p api.Principal, token string) api.VerifyResult
	// Now is the clock that decides whether bans are in force.
	Now() time.Time
}

// Config configures a Server. Authority, Applied and Bans are required.
type Config struct {
	Authority Authority
	// Applied wakes ban-cache syncs when the replicated state changes.
	Applied *consensus.Applied
	// Bans is the bans domain the sync reads.
	Bans *bans.Store
	// Topics is topic messaging. Optional: without it Publish and
	// Subscribe answer Unavailable.
	Topics api.Topics
	// Node is this node's name, recorded in each registration.
	Node string
	// Members is the mesh, for cluster-wide lists. Optional: without it
	// List answers this node's servers only.
	Members api.Members
	// HTTPClient asks other members' REST API. Default: http.Client{}.
	HTTPClient *http.Client
	// Scheme of the other members' REST API: "http" (default) or "https".
	Scheme string
	// MaxServers bounds the registry. Default DefaultMaxServers.
	MaxServers int
	// HealthInterval is the ping interval told to servers. Default
	// DefaultHealthInterval.
	HealthInterval time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger

	// Store proposes the replicated lifecycle (RegisterServer,
	// SetServerState, ...). Optional: without it (unit tests of the
	// node-local API) nothing is replicated and Records is not read.
	Store Proposer
	// Records is the replicated servers domain this node applies.
	// Required with Store.
	Records *servers.Store
	// ReapGrace is how long a member the mesh declared failed keeps its
	// servers (unhealthy) before the leader removes them. Default
	// DefaultReapGrace.
	ReapGrace time.Duration
}

// Proposer is the consensus store as this package uses it.
// *consensus.Store implements it. Both methods are safe for concurrent use.
type Proposer interface {
	// Apply proposes cmd (forwarded to the leader) and returns once it is
	// applied on this node; errors carry consensus codes.
	Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error)
	// IsLeader reports whether this node is the Raft leader now.
	IsLeader() bool
}

// Server serves GameServerService. New starts nothing; Serve serves a
// listener until Stop. It is safe for concurrent use.
type Server struct {
	cassnetv1.UnimplementedGameServerServiceServer

	auth     Authority
	applied  *consensus.Applied
	bans     *bans.Store
	topics   api.Topics
	node     string
	members  api.Members
	client   *http.Client
	scheme   string
	interval time.Duration
	log      *slog.Logger
	reg      *registry
	grpc     *grpc.Server
	store    Proposer
	records  *servers.Store
	grace    time.Duration
	loops    sync.WaitGroup // the replication loops, started by Serve
	started  sync.Once

	// ctx ends when Stop is called: every stream ends with it.
	ctx    context.Context
	cancel context.CancelFunc
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Authority == nil || cfg.Applied == nil || cfg.Bans == nil {
		return nil, errors.New("gameserver: Config.Authority and Config.State are required")
	}
	if cfg.Store != nil && cfg.Records == nil {
		return nil, errors.New("gameserver: Config.Records is required with Config.Store")
	}
	s := &Server{
		auth: cfg.Authority, applied: cfg.Applied, bans: cfg.Bans, topics: cfg.Topics, node: cfg.Node,
		members: cfg.Members, client: cfg.HTTPClient, scheme: cfg.Scheme,
		interval: cfg.HealthInterval, log: cfg.Logger,
		reg:   newRegistry(cfg.MaxServers),
		store: cfg.Store, records: cfg.Records, grace: cfg.ReapGrace,
	}
	if s.grace <= 0 {
		s.grace = DefaultReapGrace
	}
	if s.interval <= 0 {
		s.interval = DefaultHealthInterval
	}
	if cfg.MaxServers <= 0 {
		s.reg.max = DefaultMaxServers
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.scheme == "" {
		s.scheme = "http"
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(4<<20),
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	cassnetv1.RegisterGameServerServiceServer(s.grpc, s)
	return s, nil
}

// Serve serves ln until Stop. It returns nil after Stop.
func (s *Server) Serve(ln net.Listener) error {
	s.started.Do(s.startLoops)
	if err := s.grpc.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve game-server api: %w", err)
	}
	return nil
}

// Leaving tells every watching game server to drain, then that the node
// is leaving. The node calls it when it starts a graceful leave.
func (s *Server) Leaving() {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	for _, e := range s.reg.servers {
		e.broadcast(&cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Drain_{Drain: &cassnetv1.ServerEvent_Drain{}}})
		e.broadcast(&cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_NodeLeaving_{NodeLeaving: &cassnetv1.ServerEvent_NodeLeaving{}}})
	}
}

// Stop ends every stream and stops serving, waiting briefly for streams
// to flush their last events.
func (s *Server) Stop() {
	s.cancel()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.grpc.Stop()
		<-done
	}
	s.loops.Wait()
}

// Servers lists the servers registered on this node that p may see.
func (s *Server) Servers(p api.Principal, tenant string) []Info {
	return s.reg.list(func(in Info) bool {
		return in.Tenant == tenant && p.CanSee(in.Tenant, in.ProjectID)
	}, s.healthy)
}

// healthy reports whether a last ping is recent enough.
func (s *Server) healthy(last *time.Time) bool {
	return last != nil && time.Since(*last) < 3*s.interval
}
