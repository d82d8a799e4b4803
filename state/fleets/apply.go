package fleets

import (
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/state/table"
)

// Report kinds.
const (
	KindNoBinary       = "no_binary"
	KindNotAllowed     = "not_allowed"
	KindPortsExhausted = "ports_exhausted"
	KindStartFailed    = "start_failed"
	KindLimits         = "limits"
	KindSelector       = "selector"
)

// MaxSlots bounds one PlaceFleetServers.
const MaxSlots = 256

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	v := uint32(consensus.StateVersionManagement)
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.PutFleet]{Validate: validatePut, Apply: s.put, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeleteFleet]{
		Validate: func(op *cassnetv1.DeleteFleet) error {
			return validateNames(op.GetTenant(), op.GetProject(), op.GetName())
		},
		Apply: s.delete, MinStateVersion: v,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.PlaceFleetServers]{Validate: validatePlace, Apply: s.place, MinStateVersion: v})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.ReportFleetNode]{Validate: validateReport, Apply: s.report, MinStateVersion: v})
}

func validateNames(tenant, project, name string) error {
	return consensus.FirstError(consensus.ValidateName("tenant", tenant), consensus.ValidateName("project_id", project),
		consensus.ValidateName("fleet", name))
}

func validatePut(op *cassnetv1.PutFleet) error {
	if err := validateNames(op.GetTenant(), op.GetProject(), op.GetName()); err != nil {
		return err
	}
	_, err := ParseSpec(op.GetSpecJson())
	return err
}

func validatePlace(op *cassnetv1.PlaceFleetServers) error {
	if err := validateNames(op.GetTenant(), op.GetProject(), op.GetFleet()); err != nil {
		return err
	}
	if n := len(op.GetSlots()); n == 0 || n > MaxSlots {
		return invalid("slots: must hold 1 to %d", MaxSlots)
	}
	for i, sl := range op.GetSlots() {
		if err := servers.ValidateID("slots["+strconv.Itoa(i)+"].id", sl.GetId()); err != nil {
			return err
		}
		if sl.GetNode() == "" {
			return invalid("slots[%d].node: is required", i)
		}
		if err := consensus.ValidateText("node", sl.GetNode(), 128); err != nil {
			return err
		}
	}
	return nil
}

func validateReport(op *cassnetv1.ReportFleetNode) error {
	if err := validateNames(op.GetTenant(), op.GetProject(), op.GetFleet()); err != nil {
		return err
	}
	if op.GetNode() == "" {
		return invalid("node: is required")
	}
	switch op.GetKind() {
	case "", KindNoBinary, KindNotAllowed, KindPortsExhausted, KindStartFailed, KindLimits, KindSelector:
	default:
		return invalid("kind: unknown %q", op.GetKind())
	}
	if (op.GetKind() == "") != (op.GetError() == "") {
		return invalid("error: set with kind, empty without")
	}
	return consensus.FirstError(consensus.ValidateText("node", op.GetNode(), 128), consensus.ValidateText("error", op.GetError(), maxErrorLen))
}

func fleetNotFound(tenant, project, name string) error {
	return consensus.NewError(consensus.ErrNotFound, "fleet %q not found in project %q of tenant %q", name, project, tenant)
}

func (s *Store) put(tx *consensus.Tx, op *cassnetv1.PutFleet) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	spec, err := ParseSpec(op.GetSpecJson())
	if err != nil {
		return err
	}
	w := s.write(tx)
	key := fleetKey(op.GetTenant(), op.GetProject(), op.GetName())
	f := &Fleet{Tenant: op.GetTenant(), Project: op.GetProject(), Name: op.GetName(), Spec: spec,
		Version: tx.Index, CreatedAt: tx.Time, UpdatedAt: tx.Time, UpdatedBy: tx.Actor}
	action := "fleet.created"
	if old, ok := w.fleets.Get(key); ok {
		f.CreatedAt, action = old.CreatedAt, "fleet.updated"
	} else {
		n, _ := w.counts.Get(op.GetTenant())
		if n >= MaxFleetsPerTenant {
			return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d fleets", op.GetTenant(), MaxFleetsPerTenant)
		}
		w.counts.Put(op.GetTenant(), n+1)
	}
	w.fleets.Put(key, f)
	tx.Emit(consensus.Event{Action: action, Tenant: f.Tenant, Target: f.Name, Detail: "project=" + f.Project,
		Data: map[string]string{"project": f.Project, "fleet": f.Name, "command": spec.Command[0]}})
	return nil
}

func (s *Store) delete(tx *consensus.Tx, op *cassnetv1.DeleteFleet) error {
	w := s.write(tx)
	key := fleetKey(op.GetTenant(), op.GetProject(), op.GetName())
	if _, ok := w.fleets.Get(key); !ok {
		return fleetNotFound(op.GetTenant(), op.GetProject(), op.GetName())
	}
	w.fleets.Delete(key)
	w.reports.DeletePrefix(table.Prefix(op.GetTenant(), op.GetProject(), op.GetName()))
	if n, _ := w.counts.Get(op.GetTenant()); n <= 1 {
		w.counts.Delete(op.GetTenant())
	} else {
		w.counts.Put(op.GetTenant(), n-1)
	}
	gone := s.servers.RemoveFleetInTx(tx, op.GetTenant(), op.GetProject(), op.GetName())
	tx.Emit(consensus.Event{Action: "fleet.deleted", Tenant: op.GetTenant(), Target: op.GetName(),
		Detail: "project=" + op.GetProject() + " servers=" + strconv.Itoa(gone),
		Data:   map[string]string{"project": op.GetProject(), "fleet": op.GetName(), "servers": strconv.Itoa(gone)}})
	return nil
}

// place accepts the slots in order while the fleet wants more available
// servers (its buffer), stays within max_servers, and the slot's node
// within max_per_node and undrained; the rest are dropped. It fails only
// when nothing was placed, so the proposer hears that its plan was stale.
func (s *Store) place(tx *consensus.Tx, op *cassnetv1.PlaceFleetServers) error {
	w := s.write(tx)
	f, ok := w.fleets.Get(fleetKey(op.GetTenant(), op.GetProject(), op.GetFleet()))
	if !ok {
		return fleetNotFound(op.GetTenant(), op.GetProject(), op.GetFleet())
	}
	if op.GetFleetVersion() != f.Version {
		return consensus.NewError(consensus.ErrConflict, "fleet %q is at version %d, not %d", f.Name, f.Version, op.GetFleetVersion())
	}
	c := s.servers.FleetCountsInTx(tx, f.Tenant, f.Project, f.Name)
	want := f.Spec.Want(c.ByState[servers.StateAllocated])
	placed := 0
	for _, sl := range op.GetSlots() {
		if c.Available() >= want || c.Total >= f.Spec.MaxServers {
			break
		}
		if c.ByNode[sl.GetNode()] >= f.Spec.PerNode() {
			continue
		}
		if err := s.servers.PlaceInTx(tx, f.Tenant, f.Project, f.Name, sl.GetId(), sl.GetNode(), f.Spec.Labels); err != nil {
			continue // an id that exists, a drained node: dropped
		}
		c.Total++
		c.ByState[servers.StateStarting]++
		c.ByNode[sl.GetNode()]++
		placed++
	}
	if placed == 0 {
		return consensus.NewError(consensus.ErrConflict, "fleet %q needs no more servers on these nodes (available %d of %d, total %d of %d)",
			f.Name, c.Available(), want, c.Total, f.Spec.MaxServers)
	}
	tx.Emit(consensus.Event{Action: "fleet.servers_placed", Tenant: f.Tenant, Target: f.Name, Operational: true,
		Detail: "placed=" + strconv.Itoa(placed),
		Data:   map[string]string{"project": f.Project, "fleet": f.Name, "placed": strconv.Itoa(placed)}})
	return nil
}

func (s *Store) report(tx *consensus.Tx, op *cassnetv1.ReportFleetNode) error {
	w := s.write(tx)
	if _, ok := w.fleets.Get(fleetKey(op.GetTenant(), op.GetProject(), op.GetFleet())); !ok {
		return fleetNotFound(op.GetTenant(), op.GetProject(), op.GetFleet())
	}
	key := table.Key(op.GetTenant(), op.GetProject(), op.GetFleet(), op.GetNode())
	if op.GetKind() == "" {
		w.reports.Delete(key)
		return nil
	}
	w.reports.Put(key, NodeReport{Tenant: op.GetTenant(), Project: op.GetProject(), Fleet: op.GetFleet(),
		Node: op.GetNode(), Kind: op.GetKind(), Error: op.GetError(), At: tx.Time})
	tx.Emit(consensus.Event{Action: "fleet.node_error", Tenant: op.GetTenant(), Target: op.GetFleet(), Operational: true,
		Detail: "node=" + op.GetNode() + " kind=" + op.GetKind(),
		Data:   map[string]string{"project": op.GetProject(), "fleet": op.GetFleet(), "node": op.GetNode(), "kind": op.GetKind()}})
	return nil
}
