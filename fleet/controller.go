package fleet

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
)

// candidate is a node a fleet's new server may go to.
type candidate struct {
	name  string
	count int // the fleet's servers on it
	load  int
}

// Plan is the controller's decision for one fleet, computed from a view
// of the state and the members; Apply has the last word.
type Plan struct {
	Place  []*cassnetv1.PlaceFleetServers_Slot
	Retire []string // ready servers to retire (compare-and-set)
	Remove []string // unhealthy, lost or stuck servers to forget
}

// plan decides what f needs: new slots on the eligible nodes (fewest of
// the fleet's servers first, then lowest load, then name), ready servers
// to retire beyond the buffer, and dead records to remove.
func plan(f fleets.Fleet, recs []servers.Server, members []mesh.Member, schedulable func(string) bool,
	reports []fleets.NodeReport, now time.Time, cfg Config, newID func() string) Plan {
	var p Plan
	c := servers.FleetCounts{ByState: map[string]int{}, ByNode: map[string]int{}}
	alive := map[string]bool{}
	for _, m := range members {
		if m.Status == mesh.StatusAlive {
			alive[m.Name] = true
		}
	}
	var ready []servers.Server
	for _, r := range recs {
		switch {
		case (r.State == servers.StateUnhealthy || r.State == servers.StateLost) && alive[r.Node] && now.Sub(r.UpdatedAt) >= cfg.UnhealthyGrace,
			r.State == servers.StateStarting && now.Sub(r.CreatedAt) >= cfg.StartTimeout:
			p.Remove = append(p.Remove, r.ID)
			continue
		case r.State == servers.StateReady:
			ready = append(ready, r)
		}
		c.Total++
		c.ByState[r.State]++
		c.ByNode[r.Node]++
	}
	want := f.Spec.Want(c.ByState[servers.StateAllocated])
	avail := c.Available()
	if avail > want {
		// Retire the newest ready servers on the fullest nodes first.
		slices.SortFunc(ready, func(a, b servers.Server) int {
			return cmp.Or(cmp.Compare(c.ByNode[b.Node], c.ByNode[a.Node]), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
		})
		for i := 0; i < avail-want && i < len(ready); i++ {
			p.Retire = append(p.Retire, ready[i].ID)
		}
		return p
	}
	n := min(want-avail, f.Spec.MaxServers-c.Total, fleets.MaxSlots)
	if n <= 0 {
		return p
	}
	backoff := map[string]bool{}
	for _, r := range reports {
		if r.Kind != fleets.KindLimits && now.Sub(r.At) < cfg.ErrorBackoff {
			backoff[r.Node] = true
		}
	}
	var cands []*candidate
	for _, m := range members {
		if m.Status != mesh.StatusAlive || !m.Fleets || backoff[m.Name] || !schedulable(m.Name) || !f.Spec.Matches(m.LabelMap()) {
			continue
		}
		cands = append(cands, &candidate{name: m.Name, count: c.ByNode[m.Name], load: int(m.Load.CPU) + int(m.Load.Memory)})
	}
	for range n {
		slices.SortFunc(cands, func(a, b *candidate) int {
			return cmp.Or(cmp.Compare(a.count, b.count), cmp.Compare(a.load, b.load), cmp.Compare(a.name, b.name))
		})
		if len(cands) == 0 || cands[0].count >= f.Spec.PerNode() {
			break
		}
		cands[0].count++
		p.Place = append(p.Place, &cassnetv1.PlaceFleetServers_Slot{Id: newID(), Node: cands[0].name})
	}
	return p
}

// newServerID is "<fleet>-<12 random hex digits>", cut to the id limit.
func newServerID(fleet string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := fleet
	if len(id) > 100 {
		id = id[:100]
	}
	return id + "-" + hex.EncodeToString(b[:])
}

// control runs on every node and acts only while this node leads.
func (a *Agent) control(ctx context.Context) {
	if !a.cfg.Store.IsLeader() {
		return
	}
	members := a.cfg.Members.Members()
	now := time.Now()
	for _, f := range a.cfg.Fleets.All() {
		recs := a.cfg.Servers.Servers(f.Tenant, servers.Filter{Project: f.Project, Fleet: f.Name})
		p := plan(f, recs, members, a.cfg.Servers.Schedulable, a.cfg.Fleets.Reports(f.Tenant, f.Project, f.Name),
			now, a.cfg, func() string { return newServerID(f.Name) })
		a.act(ctx, f, p)
	}
}

func (a *Agent) act(ctx context.Context, f fleets.Fleet, p Plan) {
	for _, id := range p.Remove {
		if err := a.propose(ctx, removeCmd(f.Tenant, id)); err != nil {
			a.log.Debug("fleet: remove a dead server", "server", id, "err", err)
		}
	}
	for _, id := range p.Retire {
		err := a.propose(ctx, stateCmd(f.Tenant, id, servers.StateShutdown, servers.StateReady))
		if err != nil && !errors.Is(err, consensus.ErrConflict) {
			a.log.Debug("fleet: retire a ready server", "server", id, "err", err)
		}
	}
	if len(p.Place) == 0 {
		return
	}
	cmd := &cassnetv1.Command{Op: &cassnetv1.Command_PlaceFleetServers{PlaceFleetServers: &cassnetv1.PlaceFleetServers{
		Tenant: f.Tenant, Project: f.Project, Fleet: f.Name, Slots: p.Place, FleetVersion: f.Version}}}
	if err := a.propose(ctx, cmd); err != nil {
		if !errors.Is(err, consensus.ErrConflict) {
			a.log.Warn("fleet: place servers", "fleet", f.Name, "err", err)
		}
		return
	}
	a.log.Info("fleet: servers placed", "tenant", f.Tenant, "fleet", f.Name, "slots", len(p.Place))
}
