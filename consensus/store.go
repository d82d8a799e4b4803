package consensus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/cassandranet/cassnet/mesh"
)

// MemberSource is who is in the mesh, as the mesh package reports it.
// consensus never keeps a second membership list: autopilot reads this
// on every pass. mesh.Mesh implements it.
type MemberSource interface {
	Members() []mesh.Member
	// Changes signals (without blocking) when membership changes.
	Changes() <-chan struct{}
}

// Config configures a Store.
type Config struct {
	// NodeID is the stable Raft server ID (the node's ID on disk).
	NodeID string
	// DataDir holds the Raft log (raft/wal, or raft/raft.db in a data dir
	// made by an earlier release; see logstore.go) and raft/snapshots.
	DataDir string
	// BindAddr is the host:port the Raft and internal RPC port listens on.
	BindAddr string
	// AdvertiseAddr is the host:port other servers dial (default BindAddr).
	AdvertiseAddr string
	// JoinToken keys the connection preamble (see transport.go). With TLS
	// set it is only a cheap pre-filter; the node passes a value every
	// member of the cluster shares (the CA fingerprint).
	JoinToken string
	// TLS, if set, puts every Raft and RPC connection under mutual TLS 1.3
	// and enables the join stream. Nil keeps them plaintext (unit tests).
	TLS *TLS
	// Bootstrap forms a one-server cluster if there is no Raft state yet.
	Bootstrap bool
	// Modules are the domains whose replicated state the FSM applies, in
	// hash and snapshot order (see Module). Their order never changes.
	Modules []Module
	// NewModules returns a fresh, empty set of the same modules
	// (state.New().Modules()). RestoreSnapshot restores an archive into
	// them first, to refuse a bad one before raft installs it (raft
	// cannot undo a restore that fails). Required for RestoreSnapshot.
	NewModules func() []Module
	// AutopilotSettings, if set, returns the replicated autopilot
	// settings (see AutopilotOverrides). Autopilot calls it on every
	// pass; it must be cheap and safe for concurrent use. Unset fields
	// keep Autopilot's values, the agent's flags.
	AutopilotSettings func() AutopilotOverrides
	// Members is the gossip membership; required.
	Members MemberSource
	// Autopilot tunes how servers are added, promoted and removed.
	Autopilot AutopilotConfig
	// SnapshotThreshold, SnapshotInterval and TrailingLogs override the
	// raft defaults when non-zero (tests use small values to force
	// compaction).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// LogStore is the Raft log store a new data dir gets: LogStoreBolt
	// (the default when empty) or LogStoreWAL. An existing data dir keeps
	// the one it has (logstore.go).
	LogStore string
	// UnsafeAckBeforeCommit is for the chaos harness only: the leader
	// reports a write as done when it has not committed within a short
	// grace (unsafeAckGrace) after raft.Apply enqueued it, without waiting
	// for a quorum. It loses acknowledged writes when the leader is cut
	// off; it exists so that tests can prove the harness's checkers catch
	// exactly that. Never set it in production.
	UnsafeAckBeforeCommit bool
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
}

// TLS configures mutual TLS on the Raft/RPC port. The configurations are
// read on every handshake, so certificates they return may change at run
// time (renewal).
type TLS struct {
	// Server is used for accepted Raft and RPC streams; it must require
	// and verify client certificates.
	Server *tls.Config
	// Client is used to dial other servers.
	Client *tls.Config
	// Join, if set, serves the join stream. It receives the raw
	// connection right after the preamble, owns it and must close it. It
	// is called on the accepting goroutine of that connection and must
	// return within a bounded time.
	Join func(net.Conn)
}

// logCacheEntries is how many of the newest log entries stay in memory.
const logCacheEntries = 1024

// applyTimeout bounds how long a proposal may wait to enter the log.
const applyTimeout = 10 * time.Second

// holdTimeout is how long a request waits for a leader to appear before
// failing with ErrNoLeader (as Consul's RPCHoldTimeout).
const holdTimeout = 5 * time.Second

// Store is one server's Raft node: the log, the state machine, the
// internal RPC that forwards writes to the leader, and autopilot.
type Store struct {
	cfg    Config
	logger *slog.Logger
	fsm    *FSM

	raft      *raft.Raft
	logs      logStore
	logKind   string // LogStoreWAL or LogStoreBolt
	transport *raft.NetworkTransport
	mux       *mux
	tag       []byte
	grpc      *grpc.Server
	clients   *rpcClients

	// leaderReadyTerm is the term in which this node, as leader, finished
	// its barrier: it has applied everything from earlier terms. Zero
	// when not leading. Comparing it with the current term means a
	// leader that lost and regained leadership between two checks never
	// serves reads before its new term's barrier.
	leaderReadyTerm atomic.Uint64
	ready           atomic.Bool
	// leaving is set when a graceful leave or a hand-off (a stop that
	// keeps the seat, HandOff) starts: the node then refuses
	// reads and writes that need the cluster with ErrShuttingDown, and
	// reports not ready, so clients move to another node at once.
	leaving atomic.Bool
	// restoreMu serialises snapshot restores.
	restoreMu sync.Mutex

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New validates cfg and returns a Store that has started nothing.
func New(cfg Config) (*Store, error) {
	if cfg.NodeID == "" || cfg.DataDir == "" || cfg.BindAddr == "" {
		return nil, errors.New("consensus: NodeID, DataDir and BindAddr are required")
	}
	if cfg.JoinToken == "" {
		return nil, errors.New("consensus: JoinToken is required")
	}
	if cfg.Members == nil {
		return nil, errors.New("consensus: Members is required")
	}
	if cfg.AdvertiseAddr == "" {
		cfg.AdvertiseAddr = cfg.BindAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Autopilot = cfg.Autopilot.withDefaults()
	tag, err := rpcAuthKey(cfg.JoinToken)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "consensus")
	fsm, err := NewFSM(cfg.Modules, logger)
	if err != nil {
		return nil, err
	}
	return &Store{
		cfg:    cfg,
		logger: logger,
		fsm:    fsm,
		tag:    tag,
	}, nil
}

// Start opens the log, starts Raft, the internal RPC server and the
// background loops. It does not wait for a leader.
func (s *Store) Start(ctx context.Context) error {
	dir := filepath.Join(s.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create raft dir: %w", err)
	}
	store, kind, err := openLogStore(dir, newRaftLogger(s.logger), 0, s.cfg.LogStore)
	if err != nil {
		return err
	}
	s.logs, s.logKind = store, kind
	s.logger.Info("opened the raft log", "store", kind)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newRaftLogger(s.logger))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.BindAddr)
	if err != nil {
		return fmt.Errorf("listen on raft port: %w", err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", s.cfg.AdvertiseAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("resolve advertise address: %w", err)
	}
	s.mux = newMux(ln, s.tag, s.cfg.TLS, s.logger)
	stream := &raftStreamLayer{subListener: s.mux.raft, tag: s.tag, tls: s.clientTLS(), advertise: advertise}
	s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newRaftLogger(s.logger),
		// 1 turns pipeline replication off: every AppendEntries waits for
		// its answer. The pipeline (2 in flight, the default) can wedge
		// for good when a follower refuses an append: its send loop parks
		// on a channel that the response decoder, itself parked, never
		// reads, so that follower gets heartbeats but no more entries, and
		// the leader's raft.Shutdown never returns (hashicorp/raft#612;
		// grafana/pyroscope#5518 turned it off for the same reason). The
		// chaos harness hit it: a leader's SIGTERM hung for 30 s with its
		// replication goroutine in netPipeline.AppendEntries. raft's own
		// docs measure little gain from the pipeline at 2 in flight.
		MaxRPCsInFlight: 1,
	})

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(s.cfg.NodeID)
	conf.Logger = newRaftLogger(s.logger)
	conf.HeartbeatTimeout, conf.ElectionTimeout = raftHeartbeatTimeout, raftElectionTimeout
	if s.cfg.SnapshotThreshold > 0 {
		conf.SnapshotThreshold = s.cfg.SnapshotThreshold
	}
	if s.cfg.SnapshotInterval > 0 {
		conf.SnapshotInterval = s.cfg.SnapshotInterval
	}
	if s.cfg.TrailingLogs > 0 {
		conf.TrailingLogs = s.cfg.TrailingLogs
	}
	// The leader re-reads every entry it has just written to replicate it;
	// a cache of the newest entries saves a bolt read and a decode each
	// (about 13% of the leader's CPU under cassnet bench with bolt, see
	// docs/benchmarks.md). It holds entries already durable in the store.
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		return fmt.Errorf("log cache: %w", err)
	}
	r, err := startRaft(conf, s.fsm, logs, store, snaps, s.transport)
	if err != nil {
		s.mux.close()
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r

	if s.cfg.Bootstrap {
		has, err := raft.HasExistingState(store, store, snaps)
		if err != nil {
			return fmt.Errorf("inspect raft state: %w", err)
		}
		if !has {
			f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter,
				ID:       raft.ServerID(s.cfg.NodeID),
				Address:  raft.ServerAddress(s.cfg.AdvertiseAddr),
			}}})
			if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				return fmt.Errorf("bootstrap: %w", err)
			}
			s.logger.Info("bootstrapped a new cluster", "id", s.cfg.NodeID)
		}
	}

	s.clients = newRPCClients(s.tag, s.clientTLS())
	s.grpc = newRPCServer(s)
	go s.mux.serve()
	go func() { _ = s.grpc.Serve(s.mux.rpc) }()

	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.leadershipLoop(loopCtx) }()
	go func() { defer s.wg.Done(); s.readinessLoop(loopCtx) }()
	return nil
}

// Applied is the local state machine's applied index and change
// notification, shared by every module.
func (s *Store) Applied() *Applied { return s.fsm.applied }

// FSM is the local state machine.
func (s *Store) FSM() *FSM { return s.fsm }

// Ready is true once this node knows a leader and has applied the log up
// to the leader's index as of when it started.
func (s *Store) Ready() bool { return s.ready.Load() && !s.leaving.Load() }

// IsLeader reports whether this node is the Raft leader.
func (s *Store) IsLeader() bool { return s.raft != nil && s.raft.State() == raft.Leader }

// Shutdown stops the loops, Raft, the RPC server and closes the log. It is
// idempotent. It does not leave the cluster: see Leave.
func (s *Store) Shutdown() error {
	var errs []error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		// Raft first: its futures (a leader's barrier, autopilot's
		// configuration changes) then fail at once instead of holding the
		// loops below for up to applyTimeout each.
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
			}
		}
		s.wg.Wait()
		if s.grpc != nil {
			s.grpc.Stop()
		}
		if s.clients != nil {
			s.clients.close()
		}
		if s.transport != nil {
			_ = s.transport.Close()
		}
		if s.mux != nil {
			_ = s.mux.close()
		}
		if s.logs != nil {
			if err := s.logs.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close raft log: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// startRaft is raft.NewRaft, with its panic on a log entry it cannot read
// turned into an error wrapping ErrLogUnreadable. hashicorp/raft v1.7.3
// panics when GetLog fails while it scans the log for configuration
// entries on start (api.go), before it starts any goroutine, so nothing
// is left running. The agent then exits with a message that names the
// damaged log and the remedy, not a goroutine dump, and a supervisor that
// restarts it sees the same message each time. Raft panics there with the
// store's error; any other panic (a runtime error, say in an FSM's
// Restore) is a bug, not a damaged log, and goes on with its stack.
func startRaft(conf *raft.Config, fsm raft.FSM, logs raft.LogStore, stable raft.StableStore,
	snaps raft.SnapshotStore, trans raft.Transport) (r *raft.Raft, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		perr, ok := p.(error)
		var bug runtime.Error
		if !ok || errors.As(perr, &bug) {
			panic(p)
		}
		r, err = nil, fmt.Errorf("%w: %w", ErrLogUnreadable, perr)
	}()
	return raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
}

// clientTLS is the configuration for dialing other servers, or nil.
func (s *Store) clientTLS() *tls.Config {
	if s.cfg.TLS == nil {
		return nil
	}
	return s.cfg.TLS.Client
}
