package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/state/plugins"
)

var (
	_ hooks.Runner = (*Runtime)(nil)
	_ hooks.RPCs   = (*Runtime)(nil)
)

// Failure kinds, as reported and counted.
const (
	kindTrap    = "trap"
	kindTimeout = "timeout"
	kindInvalid = "invalid_result"
	kindLoad    = "load"
)

// Before implements hooks.Runner: the tenant's plugins that name hook
// run in name order, each seeing the request the previous one returned.
// A failing plugin refuses the request unless it is fail_open.
func (r *Runtime) Before(ctx context.Context, hook string, caller hooks.Caller, req []byte) ([]byte, error) {
	view := r.cfg.Source.View()
	for _, p := range view.Tenant(caller.Tenant) {
		v, err := r.version(ctx, view, p)
		if err != nil {
			r.failed(p, hook, kindLoad, err)
			if p.FailOpen {
				continue
			}
			return nil, fmt.Errorf("plugin %s is not loaded: %w", p.Name, err)
		}
		if !v.c.manifest.Has(hook) {
			continue
		}
		res, err := r.hook(ctx, v, p, hook, caller, req, nil)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			if p.FailOpen {
				continue
			}
			return nil, fmt.Errorf("plugin %s failed: %w", p.Name, err)
		}
		switch res.Action {
		case ActionReject:
			r.metrics.result(p, hook, "reject")
			return nil, &hooks.Rejection{Plugin: p.Name, Status: res.Status, Message: res.Message}
		case ActionAmend:
			r.metrics.result(p, hook, "amend")
			req = res.Request
		default:
			r.metrics.result(p, hook, "allow")
		}
	}
	return req, nil
}

// After implements hooks.Runner. It runs even if ctx is cancelled (the
// change was made), each call under the call timeout.
func (r *Runtime) After(ctx context.Context, hook string, caller hooks.Caller, req, result []byte) {
	ctx = context.WithoutCancel(ctx)
	view := r.cfg.Source.View()
	for _, p := range view.Tenant(caller.Tenant) {
		v, err := r.version(ctx, view, p)
		if err != nil || !v.c.manifest.Has(hook) {
			continue
		}
		if _, err := r.hook(ctx, v, p, hook, caller, req, result); err == nil {
			r.metrics.result(p, hook, "ok")
		}
	}
}

// RPC implements hooks.RPCs: the first plugin (by name) that serves name
// answers.
func (r *Runtime) RPC(ctx context.Context, caller hooks.Caller, name string, payload []byte) ([]byte, error) {
	view := r.cfg.Source.View()
	for _, p := range view.Tenant(caller.Tenant) {
		v, err := r.version(ctx, view, p)
		if err != nil || !v.c.manifest.HasRPC(name) {
			continue
		}
		hook := "rpc:" + name
		out, err := r.run(ctx, v, p, hook, caller, payload, nil)
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("plugin %s failed: %w", p.Name, err)
		}
		res, msg, err := decodeRPC(out)
		if err != nil {
			r.failed(p, hook, kindInvalid, err)
			return nil, fmt.Errorf("plugin %s failed: %w", p.Name, err)
		}
		if msg != "" {
			r.metrics.result(p, hook, "reject")
			return nil, &hooks.Rejection{Plugin: p.Name, Status: 400, Message: msg}
		}
		r.metrics.result(p, hook, "ok")
		return res, nil
	}
	return nil, hooks.ErrNoRPC
}

// hook runs one hook call and decodes its answer.
func (r *Runtime) hook(ctx context.Context, v *version, p plugins.Plugin, hook string, caller hooks.Caller, req, result []byte) (Result, error) {
	out, err := r.run(ctx, v, p, hook, caller, req, result)
	if err != nil {
		return Result{}, err
	}
	res, err := DecodeResult(out)
	if err != nil {
		r.failed(p, hook, kindInvalid, err)
		return Result{}, err
	}
	return res, nil
}

// run makes one call on an instance of v, under the call timeout. A
// failed call discards its instance and is reported.
func (r *Runtime) run(ctx context.Context, v *version, p plugins.Plugin, hook string, caller hooks.Caller, req, result []byte) ([]byte, error) {
	in := &callInput{hook: hook, caller: caller, config: p.Config, request: req, result: result}
	if len(in.config) == 0 {
		in.config = emptyConfig
	}
	if len(in.request) == 0 {
		in.request = nullJSON
	}
	start := time.Now()
	inst, err := v.acquire(ctx)
	for try := 0; errors.Is(err, errRetired) && try < 3; try++ {
		// Replaced since this call looked: run on the current version.
		if v, p, err = r.current(ctx, p, hook); err == nil {
			if in.config = p.Config; len(in.config) == 0 {
				in.config = emptyConfig
			}
			inst, err = v.acquire(ctx)
		}
	}
	if errors.Is(err, errGone) || err != nil && ctx.Err() != nil {
		return nil, err // not the plugin's failure: gone, or the caller gave up
	}
	if err != nil {
		r.failed(p, hook, kindLoad, err)
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	out, err := inst.invoke(cctx, in)
	timedOut := cctx.Err() != nil
	cancel()
	v.release(ctx, inst, err == nil)
	r.metrics.observe(p, hook, time.Since(start))
	if err != nil && ctx.Err() != nil {
		// The caller gave up (client gone, request deadline): the call
		// was stopped, its instance discarded, but it is not reported
		// as the plugin's failure.
		return nil, fmt.Errorf("%s: %w", kindTimeout, err)
	}
	if err != nil {
		kind := kindTrap
		switch {
		case timedOut:
			kind = kindTimeout
		case errors.Is(err, errInvalidResult):
			kind = kindInvalid
		}
		r.failed(p, hook, kind, err)
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return out, nil
}

var (
	emptyConfig = []byte("{}")
	nullJSON    = []byte("null")
)

// errGone means the plugin was deleted, or its new version no longer
// implements the hook, while the call was starting: the call is skipped.
var errGone = errors.New("plugin: gone")

// current returns the registry's current version of plugin p, if it
// still implements hook.
func (r *Runtime) current(ctx context.Context, p plugins.Plugin, hook string) (*version, plugins.Plugin, error) {
	view := r.cfg.Source.View()
	for _, q := range view.Tenant(p.Tenant) {
		if q.Name != p.Name {
			continue
		}
		v, err := r.version(ctx, view, q)
		if err != nil {
			return nil, q, err
		}
		name, isRPC := strings.CutPrefix(hook, "rpc:")
		if isRPC && !v.c.manifest.HasRPC(name) || !isRPC && !v.c.manifest.Has(hook) {
			return nil, q, errGone
		}
		return v, q, nil
	}
	return nil, p, errGone
}

// failed counts, logs and (rate-limited) reports a failed call.
func (r *Runtime) failed(p plugins.Plugin, hook, kind string, err error) {
	r.metrics.result(p, hook, "error")
	r.metrics.failure(p, kind)
	r.log.Warn("plugin call failed", "tenant", p.Tenant, "plugin", p.Name, "sha256", short(p.SHA256),
		"hook", hook, "kind", kind, "err", err)
	r.rep.note(p, hook, kind, err.Error())
}
