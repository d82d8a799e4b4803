package fleet

import (
	"context"
	"errors"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/supervisor"
)

var _ api.FleetNode = (*Agent)(nil)

// local returns the proc of a server of tenant this node runs.
func (a *Agent) local(tenant, id string) (*proc, error) {
	if a.ps == nil {
		return nil, consensus.NewError(consensus.ErrConflict, "fleets are disabled on node %q (no --fleet-allow)", a.node)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.procs[id]
	if p == nil || p.tenant != tenant || p.retiring {
		return nil, consensus.NewError(consensus.ErrNotFound, "server %q has no process on node %q", id, a.node)
	}
	return p, nil
}

// Power implements api.FleetNode: stop takes the server out of the pool
// (draining) and stops its process; start starts a stopped or failed one
// again; restart stops and starts it; kill sends SIGKILL, which counts
// as a crash and is restarted within max_restarts.
func (a *Agent) Power(ctx context.Context, tenant, id, action string) error {
	p, err := a.local(tenant, id)
	if err != nil {
		return err
	}
	switch action {
	case "stop":
		a.mu.Lock()
		p.stopped = true
		a.mu.Unlock()
		if err := a.propose(ctx, stateCmd(tenant, id, servers.StateDraining, "")); err != nil {
			a.log.Warn("fleet: power stop: mark draining", "server", id, "err", err)
		}
		err = a.ps.Stop(ctx, id)
	case "start":
		if st, ok := a.ps.Status(id); ok && (st.State == supervisor.StateRunning || st.State == supervisor.StateStarting) {
			return consensus.NewError(consensus.ErrConflict, "server %q is already running", id)
		}
		a.mu.Lock()
		p.stopped = false
		a.mu.Unlock()
		err = a.ps.Restart(ctx, id)
	case "restart":
		err = a.ps.Restart(ctx, id)
	case "kill":
		err = a.ps.Kill(id)
	default:
		return consensus.NewError(consensus.ErrInvalid, "action: must be start, stop, restart or kill")
	}
	if err != nil {
		if errors.Is(err, supervisor.ErrNotFound) {
			return consensus.NewError(consensus.ErrNotFound, "server %q has no process on node %q", id, a.node)
		}
		return consensus.NewError(consensus.ErrConflict, "%s server %q: %v", action, id, err)
	}
	a.log.Info("fleet: power action", "server", id, "action", action)
	return nil
}

func toLine(l supervisor.LogLine) api.LogLine {
	return api.LogLine{Time: l.Time, Stream: l.Stream, Text: l.Text}
}

// Logs implements api.FleetNode.
func (a *Agent) Logs(tenant, id string, n int) ([]api.LogLine, error) {
	if _, err := a.local(tenant, id); err != nil {
		return nil, err
	}
	lines, err := a.ps.Logs(id, n)
	if err != nil {
		return nil, consensus.NewError(consensus.ErrNotFound, "logs of server %q: %v", id, err)
	}
	out := make([]api.LogLine, len(lines))
	for i, l := range lines {
		out[i] = toLine(l)
	}
	return out, nil
}

// Follow implements api.FleetNode.
func (a *Agent) Follow(ctx context.Context, tenant, id string) (<-chan api.LogLine, error) {
	if _, err := a.local(tenant, id); err != nil {
		return nil, err
	}
	in, err := a.ps.Follow(ctx, id)
	if err != nil {
		return nil, consensus.NewError(consensus.ErrNotFound, "logs of server %q: %v", id, err)
	}
	out := make(chan api.LogLine, 64)
	go func() {
		defer close(out)
		for l := range in {
			select {
			case out <- toLine(l):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Process implements api.FleetNode.
func (a *Agent) Process(tenant, id string) (api.ProcessInfo, error) {
	if _, err := a.local(tenant, id); err != nil {
		return api.ProcessInfo{}, err
	}
	st, ok := a.ps.Status(id)
	if !ok {
		return api.ProcessInfo{}, consensus.NewError(consensus.ErrNotFound, "server %q has no process on node %q", id, a.node)
	}
	return api.ProcessInfo{Node: a.node, PID: st.PID, State: st.State, Restarts: st.Restarts, Ports: st.Ports,
		CPUPercent: st.CPUPercent, MemoryBytes: st.MemoryBytes, Limited: st.Limited, LimitError: st.LimitError,
		LastExit: st.LastExit, Error: st.Error, StartedAt: st.StartedAt}, nil
}
