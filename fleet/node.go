package fleet

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/supervisor"
)

// sync makes this node's processes follow the records assigned to it.
func (a *Agent) sync(ctx context.Context) {
	seen := map[string]bool{}
	for _, rec := range a.cfg.Servers.OnNode(a.node) {
		if rec.Fleet == "" {
			continue
		}
		seen[rec.ID] = true
		a.mu.Lock()
		p := a.procs[rec.ID]
		a.mu.Unlock()
		if p != nil {
			a.mu.Lock()
			exited := p.exited && !p.retiring
			a.mu.Unlock()
			if exited {
				if err := a.propose(ctx, removeCmd(rec.Tenant, rec.ID)); err != nil {
					a.log.Debug("fleet: remove an exited server (again)", "server", rec.ID, "err", err)
				}
			}
			continue
		}
		if rec.State == servers.StateStarting && time.Since(rec.CreatedAt) < a.cfg.StartTimeout {
			a.start(ctx, rec)
			continue
		}
		// A record of this node without a process here: the process died
		// with an earlier run of this node. It is lost.
		if err := a.propose(ctx, removeCmd(rec.Tenant, rec.ID)); err != nil {
			a.log.Debug("fleet: remove a lost server", "server", rec.ID, "err", err)
		} else {
			a.log.Info("fleet: server lost (no process on its node)", "server", rec.ID, "fleet", rec.Fleet, "state", rec.State)
		}
	}
	a.mu.Lock()
	var gone []*proc
	for id, p := range a.procs {
		if !seen[id] && !p.retiring {
			p.retiring = true
			gone = append(gone, p)
		}
	}
	a.mu.Unlock()
	for _, p := range gone {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.retire(ctx, p) }()
	}
}

// retire stops a process whose record is gone and forgets it.
func (a *Agent) retire(ctx context.Context, p *proc) {
	if a.cfg.Forget != nil {
		a.cfg.Forget(p.tenant, p.id) // before the stop: reconcile must not re-assert it
	}
	grace := 10 * time.Second
	if f, ok := a.cfg.Fleets.Fleet(p.tenant, p.project, p.fleet); ok {
		grace = f.Spec.Grace()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+10*time.Second)
	defer cancel()
	if err := a.ps.Remove(sctx, p.id); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
		a.log.Warn("fleet: stop a retired server", "server", p.id, "err", err)
	}
	a.mu.Lock()
	delete(a.procs, p.id)
	a.mu.Unlock()
	a.log.Info("fleet: server stopped (its record is gone)", "server", p.id, "fleet", p.fleet)
}

// env is a process's environment: the fleet's own, then the contract.
// Its values are never logged.
func (a *Agent) env(f fleets.Fleet, rec servers.Server) map[string]string {
	env := maps.Clone(f.Spec.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["CN_NODE"] = a.cfg.NodeAddr
	env["CN_KEY"] = a.keys.key(rec)
	env["CN_SERVER_ID"] = rec.ID
	env["CN_FLEET"] = rec.Fleet
	env["CN_PROJECT"] = rec.Project
	env["CN_TENANT"] = rec.Tenant
	return env
}

// start starts the process of a slot assigned to this node. A start that
// fails is reported and its record removed, so that the controller places
// the server elsewhere.
func (a *Agent) start(ctx context.Context, rec servers.Server) {
	f, ok := a.cfg.Fleets.Fleet(rec.Tenant, rec.Project, rec.Fleet)
	if !ok {
		return // the fleet is being deleted; its records follow
	}
	if !f.Spec.Matches(a.labels) {
		a.fail(ctx, f, rec, fleets.KindSelector, "this node's labels do not match the fleet's node_selector")
		return
	}
	spec := supervisor.Spec{
		ServerID: rec.ID, Tenant: rec.Tenant, Project: rec.Project, Fleet: rec.Fleet,
		Command: f.Spec.Command, Env: a.env(f, rec),
		MaxRestarts: f.Spec.Restart.MaxRestarts, Backoff: time.Duration(f.Spec.Restart.BackoffSeconds) * time.Second,
		MemoryMB: f.Spec.Resources.MemoryMB, CPUPercent: f.Spec.Resources.CPUPercent, ShutdownGrace: f.Spec.Grace(),
	}
	for _, p := range f.Spec.Ports {
		spec.Ports = append(spec.Ports, supervisor.PortSpec{Name: p.Name, Protocol: p.Protocol, Range: p.Range})
	}
	a.mu.Lock()
	a.procs[rec.ID] = &proc{tenant: rec.Tenant, project: rec.Project, fleet: rec.Fleet, id: rec.ID}
	a.mu.Unlock()
	st, err := a.ps.Start(ctx, spec)
	if err != nil {
		a.mu.Lock()
		delete(a.procs, rec.ID)
		a.mu.Unlock()
		a.fail(ctx, f, rec, kindOf(err), err.Error())
		return
	}
	a.log.Info("fleet: server started", "server", rec.ID, "fleet", rec.Fleet, "pid", st.PID, "ports", st.Ports)
	limits := f.Spec.Resources.MemoryMB > 0 || f.Spec.Resources.CPUPercent > 0
	prev, had := a.cfg.Fleets.Report(rec.Tenant, rec.Project, rec.Fleet, a.node)
	switch {
	case limits && !st.Limited:
		if !had || prev.Kind != fleets.KindLimits {
			a.report(ctx, f, fleets.KindLimits, "resource limits not applied: "+st.LimitError)
		}
	case had:
		a.report(ctx, f, "", "")
	}
}

// kindOf classifies a Start error for the fleet's status.
func kindOf(err error) string {
	switch {
	case errors.Is(err, supervisor.ErrNoBinary):
		return fleets.KindNoBinary
	case errors.Is(err, supervisor.ErrNotAllowed):
		return fleets.KindNotAllowed
	case errors.Is(err, supervisor.ErrPortsExhausted):
		return fleets.KindPortsExhausted
	}
	return fleets.KindStartFailed
}

func (a *Agent) fail(ctx context.Context, f fleets.Fleet, rec servers.Server, kind, msg string) {
	a.log.Warn("fleet: could not start a server", "server", rec.ID, "fleet", rec.Fleet, "kind", kind, "err", msg)
	a.report(ctx, f, kind, msg)
	if err := a.propose(ctx, removeCmd(rec.Tenant, rec.ID)); err != nil {
		a.log.Debug("fleet: remove a server that did not start", "server", rec.ID, "err", err)
	}
}

// report records (or, with kind "", clears) this node's error for f.
func (a *Agent) report(ctx context.Context, f fleets.Fleet, kind, msg string) {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	msg = strings.ToValidUTF8(msg, "?")
	cmd := &cassnetv1.Command{Op: &cassnetv1.Command_ReportFleetNode{ReportFleetNode: &cassnetv1.ReportFleetNode{
		Tenant: f.Tenant, Project: f.Project, Fleet: f.Name, Node: a.node, Kind: kind, Error: msg}}}
	if err := a.propose(ctx, cmd); err != nil {
		a.log.Debug("fleet: report", "fleet", f.Name, "err", err)
	}
}

// events follows the processes: a clean exit is a match that ended (the
// record goes, and the controller replaces it); a crash past
// max_restarts makes the server unhealthy.
func (a *Agent) events(ctx context.Context) {
	ch := a.ps.Events()
	for {
		var ev supervisor.Event
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			ev = e
		}
		a.mu.Lock()
		p := a.procs[ev.ServerID]
		skip := p == nil || p.retiring
		a.mu.Unlock()
		if skip {
			continue
		}
		switch {
		case ev.Kind == supervisor.EventExited && ev.ExitCode == 0:
			a.log.Info("fleet: server exited (match over)", "server", p.id, "fleet", p.fleet)
			a.mu.Lock()
			p.exited = true
			a.mu.Unlock()
			if err := a.propose(ctx, removeCmd(p.tenant, p.id)); err != nil {
				a.log.Warn("fleet: remove an exited server", "server", p.id, "err", err)
			}
		case ev.Kind == supervisor.EventGaveUp:
			a.log.Warn("fleet: server crashed past max_restarts: unhealthy", "server", p.id, "fleet", p.fleet, "err", ev.Err)
			if err := a.propose(ctx, stateCmd(p.tenant, p.id, servers.StateUnhealthy, "")); err != nil {
				a.log.Warn("fleet: mark a server unhealthy", "server", p.id, "err", err)
			}
		}
	}
}
