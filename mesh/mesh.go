package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Errors returned by Mesh methods, for errors.Is.
var (
	ErrNotStarted = errors.New("mesh: not started")
	ErrStarted    = errors.New("mesh: already started")
	ErrClosed     = errors.New("mesh: shut down")
	ErrLeft       = errors.New("mesh: left the cluster")
)

// defaultBroadcastTimeout bounds Leave and UpdateMeta when ctx has no
// deadline.
const defaultBroadcastTimeout = 10 * time.Second

// maintainInterval is how often suspicions and forgotten members are
// expired and the peers file is considered for writing.
const maintainInterval = 250 * time.Millisecond

// Mesh is this node's membership in the cluster's gossip mesh. Its
// methods are safe for concurrent use.
type Mesh struct {
	cfg     Config
	log     *slog.Logger
	roster  *roster
	queue   *memberlist.TransmitLimitedQueue
	changes chan struct{}

	metaBytes atomic.Pointer[[]byte] // the local encoded Meta, read by the delegate

	left    atomic.Bool // Leave was called: stop joining
	joining atomic.Bool // the start-up join is still trying

	// Set by Start, then read-only.
	ml        *memberlist.Memberlist
	selfAddr  string              // this node's gossip address, host:port
	keyring   *memberlist.Keyring // see SetKeys
	persisted []string
	peers     *peerStore

	lifeMu  sync.Mutex // guards the fields below and wg.Add
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// New checks cfg and returns a Mesh. It starts nothing and opens no
// socket: see Start.
func New(cfg Config) (*Mesh, error) {
	metaBytes, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if _, err := configKeyring(cfg); err != nil {
		return nil, err
	}
	m := &Mesh{
		cfg:     cfg,
		log:     cfg.Logger,
		changes: make(chan struct{}, 1),
	}
	m.metaBytes.Store(&metaBytes)
	advertise := cfg.AdvertiseAddr
	if advertise == "" {
		advertise = cfg.BindAddr
	}
	local := Member{
		Meta:       cfg.Meta,
		GossipAddr: net.JoinHostPort(advertise, strconv.Itoa(cfg.AdvertisePort)),
		Status:     StatusAlive,
	}
	m.roster = newRoster(local, m.log, m.notify)
	m.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(m.roster.live.Load()) },
		RetransmitMult: memberlist.DefaultLANConfig().RetransmitMult,
	}
	return m, nil
}

// Start binds memberlist to BindAddr:BindPort (TCP and UDP) and starts the
// background work: joining Seeds and the persisted peers (in the
// background, with backoff, so Start never waits for them and a first node
// needs none), the reconnect loop, and upkeep (expiring suspicion,
// forgetting old members, persisting peers). ctx bounds only Start
// itself; the background work runs until Shutdown.
func (m *Mesh) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.started:
		return ErrStarted
	}

	if m.cfg.PeersFile != "" {
		peers, err := readPeersFile(m.cfg.PeersFile, m.log)
		if err != nil {
			return err
		}
		m.persisted = peers
	}
	m.peers = &peerStore{path: m.cfg.PeersFile, log: m.log, written: m.persisted}

	conf, err := m.memberlistConfig()
	if err != nil {
		return err
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		if conf.Transport != nil {
			_ = conf.Transport.Shutdown()
		}
		return fmt.Errorf("mesh: start memberlist on %s: %w",
			net.JoinHostPort(m.cfg.BindAddr, strconv.Itoa(m.cfg.BindPort)), err)
	}
	m.ml = ml
	// Read once, before anything can call UpdateNode: LocalNode returns
	// memberlist's own record, which UpdateNode rewrites without a lock
	// the caller can take (the chaos harness's race detector caught the
	// join loop reading it while UpdateMeta ran).
	m.selfAddr = ml.LocalNode().Address()
	m.started = true

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	if addrs := m.bootstrapAddrs(); len(addrs) > 0 {
		m.joining.Store(true)
		m.goLocked(func() { m.joinLoop(bg, addrs) })
	}
	if !m.cfg.disableReconnect {
		m.goLocked(func() { m.reconnectLoop(bg) })
	}
	m.goLocked(func() { m.maintainLoop(bg) })
	m.log.Info("mesh: started", "name", m.cfg.Name, "id", m.cfg.NodeID,
		"gossip_addr", m.selfAddr, "seeds", len(m.cfg.Seeds), "persisted_peers", len(m.persisted))
	return nil
}

// memberlistConfig builds memberlist's configuration from m.cfg.
func (m *Mesh) memberlistConfig() (*memberlist.Config, error) {
	c := m.cfg
	keyring, err := configKeyring(c)
	if err != nil {
		return nil, err
	}
	m.keyring = keyring
	d := &delegates{roster: m.roster, meta: &m.metaBytes, queue: m.queue}
	conf := memberlist.DefaultLANConfig()
	conf.Name = c.Name
	conf.BindAddr = c.BindAddr
	conf.BindPort = c.BindPort
	conf.AdvertiseAddr = c.AdvertiseAddr
	conf.AdvertisePort = c.AdvertisePort
	conf.Keyring = keyring
	conf.GossipVerifyIncoming = true
	conf.GossipVerifyOutgoing = true
	conf.ProbeInterval = c.Timing.ProbeInterval
	conf.ProbeTimeout = c.Timing.ProbeTimeout
	conf.SuspicionMult = c.Timing.SuspicionMult
	conf.SuspicionMaxTimeoutMult = c.Timing.SuspicionMaxTimeoutMult
	conf.GossipInterval = c.Timing.GossipInterval
	conf.GossipToTheDeadTime = c.Timing.GossipToTheDeadTime
	conf.PushPullInterval = c.Timing.PushPullInterval
	conf.TCPTimeout = c.Timing.TCPTimeout
	conf.DeadNodeReclaimTime = c.Timing.DeadNodeReclaimTime
	conf.Delegate = d
	conf.Events = d
	conf.Alive = d
	conf.Conflict = d
	conf.Ping = d
	conf.Logger = newMemberlistLogger(m.log, m.roster.suspectFromLog)
	if c.wrapTransport != nil || c.JoinHandler != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{c.BindAddr},
			BindPort:  c.BindPort,
			Logger:    conf.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("mesh: transport: %w", err)
		}
		var t memberlist.NodeAwareTransport = nt
		if c.JoinHandler != nil {
			t = newJoinTransport(nt, c.JoinHandler)
		}
		if c.wrapTransport != nil {
			t = c.wrapTransport(t)
		}
		conf.Transport = t
	}
	return conf, nil
}

// maintainLoop expires suspicion and forgotten members and persists the
// peers file, debounced.
func (m *Mesh) maintainLoop(ctx context.Context) {
	t := time.NewTicker(maintainInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			hold := m.cfg.Timing.suspicionHold(int(m.roster.live.Load()))
			m.roster.expire(now, hold, m.cfg.ReconnectTimeout)
			m.peers.observe(now, m.knownPeers(), false)
		}
	}
}

// Suspicions is how many times this node's probe of another member has
// failed since it started (memberlist's own "Suspect X has failed, no
// acks received"): each one starts a suspicion that the member either
// refutes (a false suspicion) or that ends in it being marked failed.
func (m *Mesh) Suspicions() uint64 { return m.roster.suspicions.Load() }

// knownPeers is what the peers file holds: the gossip addresses of the
// other members that are alive, suspect, or failed but still retried.
// Failed ones are kept so that a node restarted while cut off can still
// find its way back; members that left are not.
func (m *Mesh) knownPeers() []string {
	return m.roster.addrs(StatusAlive, StatusSuspect, StatusFailed)
}

// goLocked runs f in a goroutine that Shutdown waits for. lifeMu must be
// held and the mesh not closed.
func (m *Mesh) goLocked(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// runBounded runs f (a blocking memberlist call bounded by its own
// timeout) in a goroutine Shutdown waits for, and returns its result or
// ctx's error, whichever comes first.
func (m *Mesh) runBounded(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	m.lifeMu.Lock()
	if m.closed {
		m.lifeMu.Unlock()
		return ErrClosed
	}
	m.goLocked(func() { errc <- f() })
	m.lifeMu.Unlock()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timeoutFrom is the time left before ctx's deadline, or def.
func timeoutFrom(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return def
}

// state returns the memberlist once started, or why it cannot be used.
func (m *Mesh) state() (*memberlist.Memberlist, error) {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case !m.started:
		return nil, ErrNotStarted
	}
	return m.ml, nil
}

// Members returns every member this node knows, sorted by name, the local
// node included: alive and suspect members, and failed and left ones
// (with their last meta) until ReconnectTimeout after they went down.
// See the package documentation for what each Status means here.
func (m *Mesh) Members() []Member { return m.roster.members() }

// Local returns the local node as a Member.
func (m *Mesh) Local() Member {
	l, _ := m.roster.get(m.cfg.Name)
	return l
}

// NumAlive returns how many members memberlist currently counts as live,
// that is alive or suspect, the local node included.
func (m *Mesh) NumAlive() int { return int(m.roster.live.Load()) }

// Changes returns a channel with a buffer of one that receives a value,
// without blocking the sender, whenever a member joins, fails, leaves, is
// suspected, is forgotten, or changes its meta or address. Several
// changes may be coalesced into one signal, so a receiver should re-read
// Members. The channel is never closed.
func (m *Mesh) Changes() <-chan struct{} { return m.changes }

func (m *Mesh) notify() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// UpdateMeta replaces the local node's Meta and re-gossips it (memberlist
// UpdateNode). Name and ID may be left empty but not changed; Role
// defaults to RoleServer. Before Start it only records the meta. It waits
// until the update has been broadcast, until ctx is done, or at most 10 s
// if ctx has no deadline; on a timeout the new meta is still in effect
// locally and keeps spreading.
func (m *Mesh) UpdateMeta(ctx context.Context, meta Meta) error {
	meta, err := m.cfg.fillMeta(meta)
	if err != nil {
		return err
	}
	b, err := EncodeMeta(meta)
	if err != nil {
		return err
	}
	if m.left.Load() {
		return ErrLeft
	}
	// Store first: a Start racing with this call then gossips the new
	// meta either way.
	m.metaBytes.Store(&b)
	ml, err := m.state()
	switch {
	case errors.Is(err, ErrNotStarted):
		m.roster.setLocalMeta(meta)
		return nil
	case err != nil:
		return err
	}
	timeout := timeoutFrom(ctx, defaultBroadcastTimeout)
	if err := m.runBounded(ctx, func() error { return ml.UpdateNode(timeout) }); err != nil {
		return fmt.Errorf("mesh: update meta (applied locally, broadcast unconfirmed): %w", err)
	}
	return nil
}

// Leave leaves the cluster gracefully, so that the other members record
// this node as StatusLeft rather than StatusFailed: it gossips a leave
// intent, then calls memberlist's Leave and waits for its broadcast, until
// ctx is done or at most 10 s if ctx has no deadline. After Leave the node
// no longer joins or reconnects; call Shutdown next.
func (m *Mesh) Leave(ctx context.Context) error {
	ml, err := m.state()
	if err != nil {
		return err
	}
	if first := !m.left.Swap(true); first {
		m.roster.markLeaving()
	}
	if m.roster.liveOthers() > 0 {
		m.queue.QueueBroadcast(newLeaveBroadcast(leaveIntent{Name: m.cfg.Name, ID: m.cfg.NodeID}))
		// Let the intent go out in a gossip round of its own, ahead of
		// memberlist's dead message, so peers never show us as failed.
		if !sleep(ctx, 2*m.cfg.Timing.GossipInterval) {
			return ctx.Err()
		}
	}
	timeout := timeoutFrom(ctx, defaultBroadcastTimeout)
	if err := m.runBounded(ctx, func() error { return ml.Leave(timeout) }); err != nil {
		return fmt.Errorf("mesh: leave: %w", err)
	}
	m.log.Info("mesh: left cluster")
	return nil
}

// Shutdown stops the background work and waits for it, writes the peers
// file if it is due, and shuts memberlist down without leaving (the others
// will see this node fail unless Leave was called first). A join attempt
// in progress is not interruptible, so Shutdown may wait up to
// Timing.TCPTimeout for it. It is idempotent and safe to call before Start.
func (m *Mesh) Shutdown() error {
	m.shutdownOnce.Do(func() {
		m.lifeMu.Lock()
		m.closed = true
		started := m.started
		if m.cancel != nil {
			m.cancel()
		}
		m.lifeMu.Unlock()
		m.wg.Wait()
		if !started {
			return
		}
		m.peers.observe(time.Now(), m.knownPeers(), true)
		if err := m.ml.Shutdown(); err != nil {
			m.shutdownErr = fmt.Errorf("mesh: shutdown: %w", err)
		}
		m.log.Info("mesh: shut down")
	})
	return m.shutdownErr
}
