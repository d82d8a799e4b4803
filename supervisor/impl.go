package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// sampleEvery is how often CPU and memory are sampled.
const sampleEvery = 2 * time.Second

// impl is the Supervisor's state. Lock order: impl.mu before proc.mu.
type impl struct {
	cfg    Config
	log    *slog.Logger
	allow  []string
	cred   *syscall.Credential
	home   string
	cg     *cgroups
	cgErr  string
	sp     *spawner
	events chan Event

	mu      sync.Mutex
	procs   map[string]*proc
	ports   map[string]string // "udp/7000" -> server id
	removed []string          // removed servers whose log files are kept, oldest first
	closed  bool
	wg      sync.WaitGroup // supervise goroutines

	samplerStop chan struct{}
	samplerDone chan struct{}
}

func newSupervisor(cfg Config) (*Supervisor, error) {
	if cfg.Dir == "" {
		return nil, errors.New("supervisor: Config.Dir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	allow, err := cleanAllow(cfg.Allow)
	if err != nil {
		return nil, err
	}
	cred, home, err := credential(cfg.User)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("supervisor: log dir: %w", err)
	}
	pruneLogs(cfg.Dir, time.Now().Add(-keepLogsFor))
	if n, err := killLeftovers(cfg.Dir); err != nil {
		cfg.Logger.Warn("supervisor: leftovers of a previous run", "err", err)
	} else if n > 0 {
		cfg.Logger.Warn("supervisor: killed processes a previous run of the node left behind", "count", n)
	}
	s := &Supervisor{impl{cfg: cfg, log: cfg.Logger, allow: allow, cred: cred, home: home,
		events: make(chan Event, 1024), procs: map[string]*proc{}, ports: map[string]string{},
		samplerStop: make(chan struct{}), samplerDone: make(chan struct{})}}
	if len(allow) == 0 {
		s.log.Info("fleets disabled on this node: no --fleet-allow prefix")
	}
	if cred == nil && os.Geteuid() == 0 {
		s.log.Warn("game servers will run as root: set --fleet-user")
	}
	s.sp = newSpawner()
	if s.sp.nnp != nil {
		s.log.Warn("game servers may gain privileges", "err", s.sp.nnp)
	}
	if cg, err := openCgroups("/sys/fs/cgroup"); err != nil {
		s.cgErr = "cgroup v2 limits unavailable: " + err.Error()
		s.log.Info("game servers run without resource limits", "why", err)
	} else {
		s.cg = cg
	}
	go s.sampler()
	return s, nil
}

// emit sends an event without ever blocking: when the buffer is full the
// oldest event is dropped.
func (s *impl) emit(e Event) {
	for {
		select {
		case s.events <- e:
			return
		default:
		}
		select {
		case old := <-s.events:
			s.log.Warn("supervisor event dropped: nobody reads Events", "server", old.ServerID, "kind", old.Kind)
		default:
		}
	}
}

func (s *impl) start(ctx context.Context, spec Spec) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	if err := checkSpec(spec); err != nil {
		return Status{}, err
	}
	path, err := resolveCommand(spec.Command[0], s.allow)
	if err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Status{}, ErrClosed
	}
	var logs *sink
	if old, ok := s.procs[spec.ServerID]; ok {
		if !old.finished() {
			s.mu.Unlock()
			return Status{}, fmt.Errorf("%w: %s", ErrExists, spec.ServerID)
		}
		logs = old.logs // a replaced server keeps its log
	}
	p, err := s.launch(spec, path, logs, nil)
	s.mu.Unlock()
	if err != nil {
		return Status{}, err
	}
	select { // the first fork and exec, so the answer carries the PID
	case <-p.spawned:
	case <-ctx.Done():
	}
	p.mu.Lock()
	serr := p.startErr
	p.mu.Unlock()
	if serr != nil { // e.g. a script whose interpreter is missing
		return p.status(), fmt.Errorf("%w: %v", ErrNoBinary, serr)
	}
	return p.status(), nil
}

// launch reserves ports and starts the supervise goroutine. Called with
// s.mu held.
func (s *impl) launch(spec Spec, path string, logs *sink, prefer map[string]int) (*proc, error) {
	ports, err := reservePorts(spec.Ports, s.ports, spec.ServerID, prefer)
	if err != nil {
		return nil, err
	}
	if logs == nil {
		logs = newSink(s.cfg.Dir, spec.ServerID)
	}
	p := &proc{spec: spec, path: path, logs: logs, stopCh: make(chan struct{}), killCh: make(chan struct{}),
		done: make(chan struct{}), spawned: make(chan struct{}),
		st: Status{ServerID: spec.ServerID, Fleet: spec.Fleet, State: StateStarting, Ports: ports}}
	s.procs[spec.ServerID] = p
	s.wg.Add(1)
	go s.supervise(p)
	return p, nil
}

func (s *impl) get(id string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return p, nil
}

func (s *impl) stop(ctx context.Context, id string) error {
	p, err := s.get(id)
	if err != nil {
		return err
	}
	p.requestStop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("supervisor: stop %s: %w", id, ctx.Err())
	}
}

func (s *impl) kill(id string) error {
	p, err := s.get(id)
	if err != nil {
		return err
	}
	p.requestKill()
	return nil
}

func (s *impl) restart(ctx context.Context, id string) error {
	p, err := s.get(id)
	if err != nil {
		return err
	}
	if err := s.stop(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.procs[id] != p { // replaced or removed meanwhile
		return fmt.Errorf("%w: %s was replaced during restart", ErrExists, id)
	}
	path, err := resolveCommand(p.spec.Command[0], s.allow)
	if err != nil {
		return err
	}
	_, err = s.launch(p.spec, path, p.logs, p.status().Ports)
	return err
}

func (s *impl) remove(ctx context.Context, id string) error {
	if err := s.stop(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[id]; ok && p.finished() {
		delete(s.procs, id)
		p.logs.close()
		s.removed = append(s.removed, id)
		for len(s.removed) > keepRemoved {
			old := s.removed[0]
			s.removed = s.removed[1:]
			if _, back := s.procs[old]; !back {
				removeLogs(s.cfg.Dir, old)
			}
		}
	}
	return nil
}

func (s *impl) status(id string) (Status, bool) {
	p, err := s.get(id)
	if err != nil {
		return Status{}, false
	}
	return p.status(), true
}

func (s *impl) list() []Status {
	s.mu.Lock()
	out := make([]Status, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, p.status())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ServerID < out[j].ServerID })
	return out
}

func (s *impl) logs(id string, n int) ([]LogLine, error) {
	p, err := s.get(id)
	if err != nil {
		return nil, err
	}
	return p.logs.tail(n), nil
}

func (s *impl) follow(ctx context.Context, id string) (<-chan LogLine, error) {
	p, err := s.get(id)
	if err != nil {
		return nil, err
	}
	return p.logs.follow(ctx), nil
}

func (s *impl) close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	procs := make([]*proc, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	for _, p := range procs {
		p.requestStop()
	}
	all := make(chan struct{})
	go func() { s.wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		for _, p := range procs {
			p.requestKill()
		}
		<-all // SIGKILL is not refused; the groups go within moments
	}
	close(s.samplerStop)
	<-s.samplerDone
	s.sp.stop()
	for _, p := range procs {
		p.logs.close()
	}
	close(s.events)
	return ctx.Err()
}

// sampler samples CPU and memory of every running server.
func (s *impl) sampler() {
	defer close(s.samplerDone)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	last := map[int]sample{}
	for {
		select {
		case <-s.samplerStop:
			return
		case <-t.C:
		}
		last = s.sampleOnce(last)
	}
}

// sample is one process group's CPU ticks at a time.
type sample struct {
	ticks uint64
	at    time.Time
}

// sampleOnce reads /proc once, sets every running server's usage from
// the ticks since last, and answers this sample.
func (s *impl) sampleOnce(last map[int]sample) map[int]sample {
	s.mu.Lock()
	byPG := map[int]*proc{}
	for _, p := range s.procs {
		if pid := p.pid(); pid > 0 {
			byPG[pid] = p
		}
	}
	s.mu.Unlock()
	wanted := make(map[int]bool, len(byPG))
	for pg := range byPG {
		wanted[pg] = true
	}
	now := time.Now()
	use := scanGroups(wanted)
	next := make(map[int]sample, len(byPG))
	for pg, p := range byPG {
		u := use[pg]
		cpu := 0.0
		if l, ok := last[pg]; ok && u.ticks >= l.ticks && now.After(l.at) {
			cpu = float64(u.ticks-l.ticks) / clockTicks / now.Sub(l.at).Seconds() * 100
		}
		p.setUsage(cpu, u.rss)
		next[pg] = sample{u.ticks, now}
	}
	return next
}
