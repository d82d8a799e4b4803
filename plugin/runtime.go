// Package plugin is the Wasm plugin runtime: it loads every tenant's
// plugins from the replicated registry (package state/plugins) with
// wazero, and runs their hooks and RPCs for the request paths, as a
// hooks.Runner and hooks.RPCs.
//
// It owns the sandbox (no filesystem, no network, a memory limit and a
// time limit per call, no host functions but log and a clock), the
// compile cache (one wazero.CompiledModule per sha256), the pools of
// instances (one call at a time per instance: a Go wasm instance is not
// re-entrant), hot replacement when the registry's sha256 of a plugin
// changes, the plugin metrics and the rate-limited failure reports. It
// must not touch Raft or the state: it reads the registry through
// Source and reports failures through Config.Report.
//
// A trap, a timeout, a panic or an unusable answer fails that call and
// discards that instance; never the node.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/plugins"
)

// Defaults.
const (
	DefaultCallTimeout  = 250 * time.Millisecond
	DefaultLoadTimeout  = 30 * time.Second
	DefaultMemoryMiB    = 64
	DefaultInstances    = 4
	DefaultReportPeriod = time.Minute
	// maxLogPerCall bounds what one call (or one instantiation) may log
	// through stdout, stderr and the log import together.
	maxLogPerCall = 8 << 10
)

// Source is the replicated plugin registry. View must be cheap and safe
// for concurrent use (state/plugins.Store is one).
type Source interface {
	View() plugins.View
}

// Config configures a Runtime. Source is required.
type Config struct {
	Source Source
	// Report proposes a RecordPluginFailure. It is called from the
	// runtime's own goroutine, at most once per plugin per ReportPeriod.
	// Optional: without it failures are only logged and counted.
	Report func(ctx context.Context, op *cassnetv1.RecordPluginFailure) error
	// Node names this node in failure reports.
	Node string
	// CallTimeout bounds one hook or RPC call. Default DefaultCallTimeout.
	CallTimeout time.Duration
	// LoadTimeout bounds compiling a module and starting an instance.
	LoadTimeout time.Duration
	// MemoryMiB is each instance's linear memory limit.
	MemoryMiB uint32
	// Instances is how many instances of one plugin may run at once.
	Instances int
	// ReportPeriod is the shortest time between two failure reports of
	// one plugin. Default DefaultReportPeriod.
	ReportPeriod time.Duration
	// Interpreter runs modules in wazero's interpreter instead of
	// compiling them to machine code: compiling a 3 MB Go module takes
	// about 0.3 s instead of 2 s, but a call costs about 50 times more.
	// Tests use it; production nodes should not.
	Interpreter bool
	// CacheDir, if set, keeps compiled machine code on disk, so a restart
	// does not compile every module again.
	CacheDir string
	Logger   *slog.Logger
}

// Runtime runs plugins. It is safe for concurrent use: every method may be
// called from any number of goroutines.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	wz      wazero.Runtime
	metrics *metrics
	rep     *reporter

	mu       sync.Mutex
	compiled map[string]*compiled // by sha256 hex
	versions map[verKey]*version
	retired  []*version // replaced, with instances still in a call
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

type verKey struct{ tenant, name, sha string }

// compiled is one module, compiled once however many plugins use it.
type compiled struct {
	done     chan struct{} // closed when mod, manifest and err are set
	mod      wazero.CompiledModule
	manifest Manifest
	err      error
}

// New builds a Runtime with its wazero runtime and host modules. It
// starts nothing until Run.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Source == nil {
		return nil, errors.New("plugin: Config.Source is required")
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.LoadTimeout <= 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = DefaultMemoryMiB
	}
	if cfg.Instances <= 0 {
		cfg.Instances = DefaultInstances
	}
	if cfg.ReportPeriod <= 0 {
		cfg.ReportPeriod = DefaultReportPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rc := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin: compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rc = rc.WithCloseOnContextDone(true).
		WithMemoryLimitPages(cfg.MemoryMiB * 16) // 64 KiB pages
	wz := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, wz); err != nil {
		_ = wz.Close(ctx)
		return nil, fmt.Errorf("plugin: wasi: %w", err)
	}
	if err := instantiateHost(ctx, wz); err != nil {
		_ = wz.Close(ctx)
		return nil, fmt.Errorf("plugin: host module: %w", err)
	}
	r := &Runtime{
		cfg: cfg, log: cfg.Logger.With("component", "plugin"), wz: wz,
		metrics:  newMetrics(),
		compiled: map[string]*compiled{}, versions: map[verKey]*version{},
		stop: make(chan struct{}),
	}
	r.rep = newReporter(r)
	return r, nil
}

// Run loads every plugin of the registry ahead of its first call, and
// keeps doing so as the registry changes (retiring replaced versions:
// their in-flight calls finish on them), until ctx is done. It also
// sends the failure reports.
func (r *Runtime) Run(ctx context.Context) error {
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.rep.run(ctx, r.stop) }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		view := r.cfg.Source.View()
		r.sync(ctx, view)
		select {
		case <-ctx.Done():
			return nil
		case <-r.stop:
			return nil
		case <-view.Changed():
		case <-tick.C:
		}
	}
}

// sync preloads the registry's plugins and retires what it no longer
// names.
func (r *Runtime) sync(ctx context.Context, view plugins.View) {
	all := view.All()
	want := make(map[verKey]bool, len(all))
	shas := map[string]bool{}
	for _, p := range all {
		want[verKey{p.Tenant, p.Name, p.SHA256}] = true
		shas[p.SHA256] = true
	}
	r.mu.Lock()
	var retire []*version
	for k, v := range r.versions {
		if !want[k] {
			retire = append(retire, v)
			delete(r.versions, k)
		}
	}
	r.retired = append(r.retired, retire...)
	r.mu.Unlock()
	for _, v := range retire {
		v.retire(ctx)
	}
	r.collect(ctx, shas)
	for _, p := range all {
		lctx, cancel := context.WithTimeout(ctx, r.cfg.LoadTimeout)
		if v, err := r.version(lctx, view, p); err == nil {
			v.warm(lctx)
		} else if ctx.Err() == nil {
			r.log.Warn("plugin failed to load", "tenant", p.Tenant, "plugin", p.Name, "sha256", p.SHA256, "err", err)
			r.failed(p, "load", "load", err)
		}
		cancel()
	}
}

// collect closes compiled modules that no plugin names and no version
// uses any more.
func (r *Runtime) collect(ctx context.Context, shas map[string]bool) {
	r.mu.Lock()
	used := map[string]bool{}
	for _, v := range r.versions {
		used[v.key.sha] = true
	}
	kept := r.retired[:0]
	for _, v := range r.retired {
		if !v.drained() {
			used[v.key.sha] = true
			kept = append(kept, v)
		}
	}
	clear(r.retired[len(kept):])
	r.retired = kept
	var gone []*compiled
	for sha, c := range r.compiled {
		select {
		case <-c.done:
		default:
			continue // still compiling
		}
		if !shas[sha] && !used[sha] {
			gone = append(gone, c)
			delete(r.compiled, sha)
		}
	}
	r.mu.Unlock()
	for _, c := range gone {
		if c.mod != nil {
			_ = c.mod.Close(ctx)
		}
	}
}

// Close stops Run's goroutines and closes every module.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.stop)
	r.mu.Unlock()
	r.wg.Wait()
	return r.wz.Close(ctx)
}

// Inspect compiles module (caching it by sha256, so the node that takes an
// upload does not compile it twice), starts one instance and reads its
// manifest. The API calls it before proposing PutPlugin.
func (r *Runtime) Inspect(ctx context.Context, sha string, module []byte) (Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.LoadTimeout)
	defer cancel()
	c, err := r.compile(ctx, sha, func() ([]byte, bool) { return module, true })
	if err != nil {
		return Manifest{}, err
	}
	return c.manifest, nil
}

// compile returns the compiled module for sha, compiling it once (the
// first caller's goroutine does it; others wait, each on its own ctx). A
// failed compile is forgotten, so a later call tries again.
func (r *Runtime) compile(ctx context.Context, sha string, bytes func() ([]byte, bool)) (*compiled, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("plugin: runtime closed")
	}
	c, ok := r.compiled[sha]
	if !ok {
		c = &compiled{done: make(chan struct{})}
		r.compiled[sha] = c
		r.mu.Unlock()
		// Compiled for every caller, not just this one: under the load
		// timeout, whatever this caller's own deadline.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.LoadTimeout)
		c.mod, c.manifest, c.err = r.load(lctx, bytes)
		cancel()
		if c.err != nil {
			r.mu.Lock()
			delete(r.compiled, sha)
			r.mu.Unlock()
		}
		close(c.done)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin: waiting for module %s: %w", short(sha), ctx.Err())
	}
	return c, c.err
}

// load compiles a module and reads its manifest from a scratch instance.
func (r *Runtime) load(ctx context.Context, bytes func() ([]byte, bool)) (wazero.CompiledModule, Manifest, error) {
	bin, ok := bytes()
	if !ok {
		return nil, Manifest{}, errors.New("plugin: module bytes not in the registry")
	}
	start := time.Now()
	mod, err := r.wz.CompileModule(ctx, bin)
	if err != nil {
		return nil, Manifest{}, fmt.Errorf("plugin: compile: %w", err)
	}
	for _, name := range []string{exportAlloc, exportManifest, exportCall} {
		if _, ok := mod.ExportedFunctions()[name]; !ok {
			_ = mod.Close(ctx)
			return nil, Manifest{}, fmt.Errorf("plugin: the module does not export %s", name)
		}
	}
	in, err := r.instantiate(ctx, mod, r.log)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, Manifest{}, err
	}
	defer in.close(ctx)
	raw, err := in.manifest(ctx)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, Manifest{}, err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, Manifest{}, err
	}
	r.log.Info("plugin module compiled", "plugin", m.Name, "version", m.Version, "bytes", len(bin), "took", time.Since(start).Round(time.Millisecond))
	return mod, m, nil
}

// version returns the loaded version of plugin p, compiling its module if
// need be.
func (r *Runtime) version(ctx context.Context, view plugins.View, p plugins.Plugin) (*version, error) {
	k := verKey{p.Tenant, p.Name, p.SHA256}
	r.mu.Lock()
	v, ok := r.versions[k]
	r.mu.Unlock()
	if ok {
		return v, nil
	}
	c, err := r.compile(ctx, p.SHA256, func() ([]byte, bool) { return view.Module(p.SHA256) })
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.versions[k]; ok {
		return v, nil
	}
	if r.closed {
		return nil, errors.New("plugin: runtime closed")
	}
	v = newVersion(r, k, c)
	r.versions[k] = v
	return v, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
