package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/supervisor"
)

// Processes is the node-local supervisor (*supervisor.Supervisor). Its
// methods are safe for concurrent use; see package supervisor for the
// blocking contract of each.
type Processes interface {
	Start(ctx context.Context, spec supervisor.Spec) (supervisor.Status, error)
	Stop(ctx context.Context, serverID string) error
	Kill(serverID string) error
	Restart(ctx context.Context, serverID string) error
	Remove(ctx context.Context, serverID string) error
	Status(serverID string) (supervisor.Status, bool)
	Logs(serverID string, n int) ([]supervisor.LogLine, error)
	Follow(ctx context.Context, serverID string) (<-chan supervisor.LogLine, error)
	Events() <-chan supervisor.Event
	Close(ctx context.Context) error
}

// Proposer proposes replicated commands (the consensus store). Apply
// returns once the entry is applied on this node.
type Proposer interface {
	Apply(ctx context.Context, cmd *cassnetv1.Command) (uint64, error)
	IsLeader() bool
}

// Members is the mesh's view of the cluster.
type Members interface {
	Members() []mesh.Member
}

// Defaults.
const (
	DefaultInterval       = time.Second
	DefaultErrorBackoff   = 30 * time.Second
	DefaultUnhealthyGrace = 30 * time.Second
	DefaultStartTimeout   = 2 * time.Minute
	proposeTimeout        = 5 * time.Second
	minSpacing            = 100 * time.Millisecond
)

// Config configures an Agent. Node, Store, Applied, Fleets, Servers and
// Members are required.
type Config struct {
	// Node is this node's name.
	Node string
	// Labels are this node's labels (--node-label).
	Labels map[string]string
	// Processes runs this node's fleet servers. Nil: fleets are disabled
	// on this node (no --fleet-allow); it still plans as leader.
	Processes Processes
	Store     Proposer
	Applied   *consensus.Applied
	Fleets    *fleets.Store
	Servers   *servers.Store
	Members   Members
	// NodeAddr is the local game-server gRPC address, given as CN_NODE.
	NodeAddr string
	// Forget drops a server from the local game-server registry once its
	// process is stopped (gameserver.Server.Forget). Optional.
	Forget func(tenant, id string)
	// Interval is how often the controller and the agent look even when
	// nothing is applied. Default DefaultInterval.
	Interval time.Duration
	// ErrorBackoff keeps a node that failed to start a fleet's server out
	// of its placement this long. Default DefaultErrorBackoff.
	ErrorBackoff time.Duration
	// UnhealthyGrace is how long an unhealthy fleet server on an alive
	// node is kept (for its status) before the controller removes it.
	UnhealthyGrace time.Duration
	// StartTimeout is how long a record may stay starting without a
	// process before it is lost.
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// proc is a server whose process this agent started.
type proc struct {
	tenant, project, fleet, id string
	stopped                    bool // by a power action: the record is draining
	retiring                   bool
	// exited: the process ended its match (exit 0) and its record is to
	// go; sync proposes the removal again until it applies (it fails
	// while the node is cut off from a quorum).
	exited bool
}

// Agent is one node's fleet agent and, while the node leads, the fleet
// controller. New starts nothing; Run runs both until its context ends.
// Its methods are safe for concurrent use.
type Agent struct {
	cfg    Config
	node   string
	labels map[string]string
	ps     Processes
	keys   *keyring
	log    *slog.Logger

	mu    sync.Mutex
	procs map[string]*proc // by server id
	wg    sync.WaitGroup   // retire goroutines
}

// New checks cfg and returns an Agent.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.Node == "":
		return nil, errors.New("fleet: Config.Node is required")
	case cfg.Store == nil || cfg.Applied == nil || cfg.Fleets == nil || cfg.Servers == nil || cfg.Members == nil:
		return nil, errors.New("fleet: Config.Store, Applied, Fleets, Servers and Members are required")
	}
	cfg.Interval = cmpOr(cfg.Interval, DefaultInterval)
	cfg.ErrorBackoff = cmpOr(cfg.ErrorBackoff, DefaultErrorBackoff)
	cfg.UnhealthyGrace = cmpOr(cfg.UnhealthyGrace, DefaultUnhealthyGrace)
	cfg.StartTimeout = cmpOr(cfg.StartTimeout, DefaultStartTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keys, err := newKeyring()
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, node: cfg.Node, labels: cfg.Labels, ps: cfg.Processes, keys: keys,
		log: cfg.Logger, procs: map[string]*proc{}}, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Enabled reports whether this node runs fleet servers.
func (a *Agent) Enabled() bool { return a.ps != nil }

// Run runs the controller, the node's sync loop and the process events
// until ctx is done. It does not stop the processes: Close does.
func (a *Agent) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.loop(ctx, a.control) }()
	if a.ps != nil {
		wg.Add(2)
		go func() { defer wg.Done(); a.loop(ctx, a.sync) }()
		go func() { defer wg.Done(); a.events(ctx) }()
	}
	wg.Wait()
	a.wg.Wait()
}

// Close stops every process this node runs (SIGTERM, then SIGKILL after
// each fleet's grace), waits for them, and removes their records while
// the cluster can still be reached, so that the buffer is refilled on
// other nodes at once rather than when this node returns. Call it after
// Run has returned.
func (a *Agent) Close(ctx context.Context) error {
	if a.ps == nil {
		return nil
	}
	a.mu.Lock()
	procs := make([]*proc, 0, len(a.procs))
	for _, p := range a.procs {
		procs = append(procs, p)
	}
	a.mu.Unlock()
	if a.cfg.Forget != nil {
		for _, p := range procs {
			a.cfg.Forget(p.tenant, p.id) // the game-server API must not re-assert them
		}
	}
	if err := a.ps.Close(ctx); err != nil {
		return fmt.Errorf("fleet: stop processes: %w", err)
	}
	// Every fleet record of this node goes, also a slot placed while it
	// was stopping, which no process will ever take.
	for _, rec := range a.cfg.Servers.OnNode(a.node) {
		if rec.Fleet == "" {
			continue
		}
		if err := a.propose(ctx, removeCmd(rec.Tenant, rec.ID)); err != nil {
			a.log.Debug("fleet: remove a stopped server's record", "server", rec.ID, "err", err)
		}
	}
	return nil
}

// loop runs fn after every applied change (at most every minSpacing)
// and at least every Interval.
func (a *Agent) loop(ctx context.Context, fn func(ctx context.Context)) {
	var idx uint64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, a.cfg.Interval)
		_ = a.cfg.Applied.WaitChange(wctx, idx)
		cancel()
		idx = a.cfg.Applied.Index()
		fn(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(minSpacing):
		}
	}
}

// propose sends one command, stamped with this node as the actor.
func (a *Agent) propose(ctx context.Context, cmd *cassnetv1.Command) error {
	cmd.Version, cmd.Actor = consensus.CommandVersion, "node:"+a.node
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	if _, err := a.cfg.Store.Apply(ctx, cmd); err != nil {
		return fmt.Errorf("propose %T: %w", cmd.GetOp(), err)
	}
	return nil
}

func removeCmd(tenant, id string) *cassnetv1.Command {
	return &cassnetv1.Command{Op: &cassnetv1.Command_RemoveServer{RemoveServer: &cassnetv1.RemoveServer{Tenant: tenant, Id: id}}}
}

func stateCmd(tenant, id, state, ifState string) *cassnetv1.Command {
	return &cassnetv1.Command{Op: &cassnetv1.Command_SetServerState{SetServerState: &cassnetv1.SetServerState{
		Tenant: tenant, Id: id, State: state, IfState: ifState}}}
}

// serverOf is the record of a server this agent runs.
func (a *Agent) serverOf(id string) (servers.Server, bool) {
	a.mu.Lock()
	p := a.procs[id]
	a.mu.Unlock()
	if p == nil {
		return servers.Server{}, false
	}
	return a.cfg.Servers.Server(p.tenant, id)
}
