package node

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/fleet"
	"github.com/cassandranet/cassnet/supervisor"
)

// fleetStopTimeout bounds stopping every fleet process when the node
// stops (each gets its fleet's shutdown grace within it).
const fleetStopTimeout = 60 * time.Second

// newFleet configures the fleet agent (package fleet) and, with
// --fleet-allow, the supervisor of this node's processes. It comes before
// api.New, which takes it as its ServerKeys and Fleets.
func (n *Node) newFleet() error {
	var ps fleet.Processes
	if len(n.cfg.FleetAllow) > 0 {
		sup, err := supervisor.New(supervisor.Config{
			Dir: filepath.Join(n.cfg.DataDir, "fleet-logs"), Allow: n.cfg.FleetAllow, User: n.cfg.FleetUser,
			Logger: n.logger.With("component", "supervisor"),
		})
		if err != nil {
			return fmt.Errorf("configure supervisor: %w", err)
		}
		ps = sup
	}
	ag, err := fleet.New(fleet.Config{
		Node: n.cfg.Name, Labels: n.cfg.NodeLabels, Processes: ps,
		Store: n.store, Applied: n.store.Applied(), Fleets: n.state.Fleets, Servers: n.state.Servers, Members: n.mesh,
		NodeAddr: net.JoinHostPort(n.cfg.grpcBind(), strconv.Itoa(n.cfg.GRPCPort)),
		Forget: func(tenant, id string) {
			if n.games != nil {
				n.games.Forget(tenant, id)
			}
		},
		Logger: n.logger.With("component", "fleet"),
	})
	if err != nil {
		return fmt.Errorf("configure fleet agent: %w", err)
	}
	n.fleet = ag
	if ps == nil {
		n.logger.Info("fleets disabled on this node: no --fleet-allow")
	}
	return nil
}

// startFleet runs the fleet agent until stopFleet.
func (n *Node) startFleet(ctx context.Context) {
	fctx, cancel := context.WithCancel(ctx)
	n.fleetCancel, n.fleetDone = cancel, make(chan struct{})
	go func() {
		defer close(n.fleetDone)
		n.fleet.Run(fctx)
	}()
}

// stopFleet stops the agent, then every process it runs, and removes
// their records. The node calls it first when it leaves or hands off (it
// can still propose then) and again in stop, where it does nothing more.
func (n *Node) stopFleet() {
	if n.fleetCancel == nil {
		return
	}
	if n.mesh != nil && n.cfg.FleetAllow != nil {
		// Tell the controller first, so it places nothing more here.
		meta := n.mesh.Local().Meta
		meta.Fleets = false
		uctx, ucancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := n.mesh.UpdateMeta(uctx, meta); err != nil {
			n.logger.Debug("fleets: gossip that this node stops", "err", err)
		}
		ucancel()
	}
	n.fleetCancel()
	n.fleetCancel = nil
	<-n.fleetDone
	ctx, cancel := context.WithTimeout(context.Background(), fleetStopTimeout)
	defer cancel()
	if err := n.fleet.Close(ctx); err != nil {
		n.logger.Warn("fleet processes", "err", err)
	}
	n.logger.Debug("stopping: fleet processes stopped")
}
