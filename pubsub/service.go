package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Errors callers can test with errors.Is (ErrInvalid is in names.go).
var (
	// ErrTooLarge: the payload exceeds Config.MaxMessageSize.
	ErrTooLarge = errors.New("pubsub: message too large")
	// ErrClosed: the service is not running (not started, or stopped).
	ErrClosed = errors.New("pubsub: service not running")
	// ErrTooManyTopics: the node already carries Config.MaxTopics topics.
	ErrTooManyTopics = errors.New("pubsub: too many topics on this node")
	// ErrLagged: a subscriber fell too far behind and was disconnected;
	// it may resume with its last event id.
	ErrLagged = errors.New("pubsub: subscriber fell behind")
)

// Service is topic messaging on one node: a libp2p host, GossipSub, the
// per-topic histories and the subscription core. New builds it, Start
// brings it up, Stop tears it down. Its methods are safe for concurrent
// use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	self  peer.ID
	peers *peers
	met   *metrics

	host      host.Host
	ps        *lp2pps.PubSub
	runCtx    context.Context // from Start until Stop
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	repairSem chan struct{}
	serveSem  chan struct{}

	mu        sync.Mutex
	topics    map[string]*topic
	state     int // 0 new, 1 started, 2 stopped
	dialing   map[peer.ID]bool
	protected map[peer.ID]bool

	gapMu  sync.Mutex
	gapped map[*topic]struct{}

	// heads is the head ledger (heads.go); nil without Config.HeadsPath.
	heads       *headLedger
	headsFailed atomic.Bool // the last ledger write failed (logged once)
}

// New checks cfg and builds a Service. It starts nothing.
func New(cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	self, err := peer.IDFromPrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("pubsub: peer id: %w", err)
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger, self: self,
		peers:     newPeers(cfg.Members, self, cfg.Binder, cfg.now),
		repairSem: make(chan struct{}, 8),
		serveSem:  make(chan struct{}, 16),
		topics:    make(map[string]*topic),
		dialing:   make(map[peer.ID]bool),
		protected: make(map[peer.ID]bool),
		gapped:    make(map[*topic]struct{}),
	}
	s.met = newMetrics()
	return s, nil
}

// PeerID is this node's libp2p peer ID.
func (s *Service) PeerID() peer.ID { return s.self }

// MaxMessageSize is the payload limit in bytes.
func (s *Service) MaxMessageSize() int { return s.cfg.MaxMessageSize }

// Addr is the libp2p listen address (host:port), useful with port 0.
// It is empty before Start.
func (s *Service) Addr() string {
	s.mu.Lock()
	h := s.host
	s.mu.Unlock()
	if h == nil {
		return ""
	}
	for _, a := range h.Network().ListenAddresses() {
		if addr, err := hostPort(a); err == nil {
			return addr
		}
	}
	return ""
}

// Start brings up the libp2p host and GossipSub and starts the connect
// and maintenance loops. ctx bounds the start-up only; Stop ends the rest.
func (s *Service) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var prev []headRecord
	if s.cfg.HeadsPath != "" {
		l, recs, err := openHeadLedger(s.cfg.HeadsPath, s.cfg.HistoryAge, s.cfg.now)
		if err != nil {
			return err
		}
		s.heads, prev = l, recs
	}
	if err := s.start(); err != nil {
		if s.heads != nil {
			s.heads.close()
		}
		return err
	}
	s.announcePrevious(prev)
	return nil
}

func (s *Service) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 0 {
		return errors.New("pubsub: Start called twice")
	}
	h, err := s.newHost()
	if err != nil {
		return err
	}
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	ps, err := s.newGossipSub(h)
	if err != nil {
		s.cancel()
		_ = h.Close()
		return err
	}
	s.host, s.ps, s.state = h, ps, 1
	h.SetStreamHandler(backfillProtocol, s.handleBackfill)
	s.wg.Go(func() { s.connectLoop(s.runCtx) })
	s.wg.Go(func() { s.maintainLoop(s.runCtx) })
	if b := s.cfg.Binder; b != nil {
		s.wg.Go(func() { b.run(s.runCtx, s.cfg.Members, s.cfg.NodeID) })
	}
	s.log.Info("pubsub started", "peer_id", s.self.String(), "listen", h.Network().ListenAddresses())
	return nil
}

// Stop ends every subscription (Next returns ErrClosed), stops the loops,
// waits for them and closes the libp2p host. It is safe to call more than
// once, and before Start.
func (s *Service) Stop() error {
	s.mu.Lock()
	if s.state != 1 {
		s.state = 2
		s.mu.Unlock()
		return nil
	}
	s.state = 2
	topics := s.topics
	s.topics = map[string]*topic{}
	s.mu.Unlock()
	for _, t := range topics {
		t.close()
	}
	s.cancel()
	s.wg.Wait()
	if s.heads != nil {
		s.heads.close()
	}
	if err := s.host.Close(); err != nil {
		return fmt.Errorf("pubsub: close host: %w", err)
	}
	return nil
}

// topic returns the topic called name, joining it if create is set. It
// returns (nil, nil) when the topic is not carried and create is false.
func (s *Service) topic(name string, create bool) (*topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 1 {
		return nil, ErrClosed
	}
	if t := s.topics[name]; t != nil || !create {
		return t, nil
	}
	if len(s.topics) >= s.cfg.MaxTopics {
		return nil, ErrTooManyTopics
	}
	if err := s.ps.RegisterTopicValidator(name, s.validate, lp2pps.WithValidatorInline(true)); err != nil {
		return nil, fmt.Errorf("pubsub: validator for %s: %w", name, err)
	}
	lt, err := s.ps.Join(name)
	if err != nil {
		_ = s.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("pubsub: join %s: %w", name, err)
	}
	sub, err := lt.Subscribe(lp2pps.WithBufferSize(s.cfg.QueueSize))
	if err != nil {
		_ = lt.Close()
		_ = s.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("pubsub: subscribe %s: %w", name, err)
	}
	now := s.cfg.now()
	ctx, cancel := context.WithCancel(s.runCtx)
	t := &topic{
		s: s, name: name, lt: lt, sub: sub, cancel: cancel,
		since:   now.Add(-firstSightMargin).UnixNano(),
		hist:    newHistory(s.cfg.HistorySize, s.cfg.HistoryAge),
		streams: make(map[uint64]*stream),
		lastUse: now,
		wake:    make(chan struct{}),
		kick:    make(chan struct{}, 1),

		handedWake: make(chan struct{}),
	}
	s.topics[name] = t
	s.wg.Go(func() { t.readLoop(ctx) })
	s.wg.Go(func() { t.flushLoop(ctx) })
	return t, nil
}

// openTopic returns the topic called name, joined, with its mutex held
// and not closed (an idle topic may be closing concurrently).
func (s *Service) openTopic(name string) (*topic, error) {
	for {
		t, err := s.topic(name, true)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		if !t.closed {
			return t, nil
		}
		t.mu.Unlock()
	}
}

// close leaves the topic and wakes its subscribers (Next then returns
// ErrClosed). The caller has removed it from Service.topics.
func (t *topic) close() {
	t.mu.Lock()
	t.closed = true
	t.wakeLocked()
	t.mu.Unlock()
	t.cancel()
	t.sub.Cancel()
	if err := t.lt.Close(); err != nil {
		t.s.log.Debug("close topic", "topic", t.name, "err", err)
	}
	_ = t.s.ps.UnregisterTopicValidator(t.name)
}

// markGapped queues t for the repair scheduler.
func (s *Service) markGapped(t *topic) {
	s.gapMu.Lock()
	s.gapped[t] = struct{}{}
	s.gapMu.Unlock()
}
