package plugin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// version is one plugin (tenant, name) at one sha256: its pool of
// instances. At most Instances calls run at once; an instance that failed
// a call is discarded, never reused.
type version struct {
	r    *Runtime
	key  verKey
	c    *compiled
	log  *slog.Logger
	slot chan struct{}  // a token per running call
	idle chan *instance // instances ready for a call

	mu      sync.Mutex
	retired bool
	live    int // instances that exist (idle or in a call)
}

// errRetired means the version was replaced before the call got an
// instance; the caller takes the current version instead.
var errRetired = errors.New("plugin: version retired")

func newVersion(r *Runtime, k verKey, c *compiled) *version {
	return &version{
		r: r, key: k, c: c,
		log:  r.log.With("tenant", k.tenant, "plugin", k.name, "sha256", short(k.sha)),
		slot: make(chan struct{}, r.cfg.Instances),
		idle: make(chan *instance, r.cfg.Instances),
	}
}

// acquire returns an instance for one call, waiting for a free slot.
func (v *version) acquire(ctx context.Context) (*instance, error) {
	select {
	case v.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	v.mu.Lock()
	if v.retired {
		v.mu.Unlock()
		<-v.slot
		return nil, errRetired
	}
	select {
	case in := <-v.idle:
		v.mu.Unlock()
		return in, nil
	default:
	}
	v.live++ // before instantiating, so the compiled module stays open
	v.mu.Unlock()
	// A new instance runs the module's _initialize under the load
	// timeout, not the caller's call timeout.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.r.cfg.LoadTimeout)
	defer cancel()
	in, err := v.r.instantiate(lctx, v.c.mod, v.log)
	if err != nil {
		v.mu.Lock()
		v.live--
		v.mu.Unlock()
		<-v.slot
		return nil, err
	}
	return in, nil
}

// drained reports whether a retired version has no instance left.
func (v *version) drained() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.retired && v.live == 0
}

// release gives back an instance after a call: to the pool if the call
// succeeded and the version is current, else closed.
func (v *version) release(ctx context.Context, in *instance, ok bool) {
	v.mu.Lock()
	keep := ok && !v.retired
	if keep {
		v.idle <- in // never blocks: at most cap(slot) instances exist
	} else {
		v.live--
	}
	v.mu.Unlock()
	if !keep {
		in.close(ctx)
	}
	<-v.slot
}

// warm starts one instance ahead of the first call.
func (v *version) warm(ctx context.Context) {
	if len(v.idle) > 0 {
		return
	}
	in, err := v.acquire(ctx)
	if err != nil {
		return
	}
	v.release(ctx, in, true)
}

// retire closes the idle instances; those still in a call are closed
// when they come back.
func (v *version) retire(ctx context.Context) {
	v.mu.Lock()
	v.retired = true
	var idle []*instance
	for len(v.idle) > 0 {
		idle = append(idle, <-v.idle)
	}
	v.live -= len(idle)
	v.mu.Unlock()
	for _, in := range idle {
		in.close(ctx)
	}
}

// instance is one instantiated module. One call at a time.
type instance struct {
	mod              api.Module
	alloc, call, man api.Function
	// hook is cn_hook, the framed entry point (ABI 2); nil for a module
	// that only exports cn_call (ABI 1, one JSON input).
	hook api.Function
	buf  []byte // the framed input, reused from call to call
	out  *logWriter
}

func (r *Runtime) instantiate(ctx context.Context, c wazero.CompiledModule, log *slog.Logger) (*instance, error) {
	w := &logWriter{log: log}
	w.reset()
	// No WithFS, no args, no env: the module sees no files and no
	// sockets (wazero has none unless granted). Clocks are real so the Go
	// runtime's scheduler works; randomness is crypto/rand.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithStdout(w).WithStderr(w).WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	mod, err := r.wz.InstantiateModule(withLog(ctx, w), c, cfg)
	if err != nil {
		return nil, fmt.Errorf("plugin: instantiate: %w", err)
	}
	in := &instance{mod: mod, out: w,
		alloc: mod.ExportedFunction(exportAlloc), call: mod.ExportedFunction(exportCall),
		man: mod.ExportedFunction(exportManifest), hook: mod.ExportedFunction(exportHook)}
	if in.alloc == nil || in.call == nil && in.hook == nil || in.man == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("plugin: the module lacks cn_alloc, cn_hook (or cn_call) or cn_manifest")
	}
	return in, nil
}

func (in *instance) close(ctx context.Context) { _ = in.mod.Close(context.WithoutCancel(ctx)) }

// write copies b into a buffer the module allocated.
func (in *instance) write(ctx context.Context, b []byte) (uint32, error) {
	res, err := in.alloc.Call(ctx, uint64(len(b)))
	if err != nil {
		return 0, err
	}
	ptr := uint32(res[0])
	if !in.mod.Memory().Write(ptr, b) {
		return 0, fmt.Errorf("%w: cn_alloc answered an address outside memory", errInvalidResult)
	}
	return ptr, nil
}

// read copies the answer a packed (ptr<<32 | len) names out of memory.
func (in *instance) read(packed uint64, limit uint32) ([]byte, error) {
	ptr, n := uint32(packed>>32), uint32(packed)
	if n > limit {
		return nil, fmt.Errorf("%w: an answer of %d bytes (at most %d)", errInvalidResult, n, limit)
	}
	b, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("%w: the answer is outside memory", errInvalidResult)
	}
	return append([]byte(nil), b...), nil
}

func (in *instance) manifest(ctx context.Context) ([]byte, error) {
	in.out.reset()
	res, err := in.man.Call(withLog(ctx, in.out))
	if err != nil {
		return nil, fmt.Errorf("plugin: cn_manifest: %w", err)
	}
	return in.read(res[0], maxManifest)
}

// invoke runs one call and returns the answer: cn_hook on the five
// parts written into one buffer (ABI 2), or, for a module that only has
// cn_call, cn_call on their JSON encoding (ABI 1).
func (in *instance) invoke(ctx context.Context, c *callInput) ([]byte, error) {
	in.out.reset()
	ctx = withLog(ctx, in.out)
	if in.hook == nil {
		body, err := c.json()
		if err != nil {
			return nil, err
		}
		return in.invokeJSON(ctx, c.hook, body)
	}
	in.buf = c.frame(in.buf[:0])
	ptr, err := in.write(ctx, in.buf)
	if err != nil {
		return nil, err
	}
	var params [10]uint64
	off := uint64(ptr)
	for i, n := range c.lens() {
		params[2*i], params[2*i+1] = off, uint64(n)
		off += uint64(n)
	}
	res, err := in.hook.Call(ctx, params[:]...)
	if err != nil {
		return nil, err
	}
	return in.read(res[0], maxOutput)
}

// invokeJSON runs cn_call(hook, input), ABI 1.
func (in *instance) invokeJSON(ctx context.Context, hook string, input []byte) ([]byte, error) {
	hp, err := in.write(ctx, []byte(hook))
	if err != nil {
		return nil, err
	}
	ip, err := in.write(ctx, input)
	if err != nil {
		return nil, err
	}
	res, err := in.call.Call(ctx, uint64(hp), uint64(len(hook)), uint64(ip), uint64(len(input)))
	if err != nil {
		return nil, err
	}
	return in.read(res[0], maxOutput)
}

// logWriter receives an instance's stdout, stderr and log import, and
// passes at most maxLogPerCall bytes per call to slog. One call at a
// time uses it, but the mutex keeps stray writes safe.
type logWriter struct {
	log     *slog.Logger
	mu      sync.Mutex
	budget  int
	dropped int
}

func (w *logWriter) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dropped > 0 {
		w.log.Warn("plugin output dropped", "bytes", w.dropped)
	}
	w.budget, w.dropped = maxLogPerCall, 0
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.emit(slog.LevelInfo, p)
	return len(p), nil
}

func (w *logWriter) emit(level slog.Level, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > w.budget {
		w.dropped += len(p) - w.budget
		p = p[:w.budget]
	}
	if len(p) == 0 {
		return
	}
	w.budget -= len(p)
	w.log.Log(context.Background(), level, "plugin output", "text", cleanMessage(string(p)))
}

type logKey struct{}

func withLog(ctx context.Context, w *logWriter) context.Context {
	return context.WithValue(ctx, logKey{}, w)
}

// instantiateHost defines module "cassnet": log and now_unix_nano.
func instantiateHost(ctx context.Context, wz wazero.Runtime) error {
	_, err := wz.NewHostModuleBuilder(hostModule).
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, level int32, ptr, n uint32) {
		w, ok := ctx.Value(logKey{}).(*logWriter)
		if !ok {
			return
		}
		b, ok := m.Memory().Read(ptr, min(n, maxLogPerCall))
		if ok {
			w.emit(slog.Level(level), b)
		}
	}).Export("log").
		NewFunctionBuilder().WithFunc(func(context.Context) int64 { return time.Now().UnixNano() }).Export("now_unix_nano").
		Instantiate(ctx)
	return err
}
