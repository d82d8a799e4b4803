package fleets

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/servers"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Fleet is the replicated record of one fleet.
type Fleet struct {
	Tenant  string `json:"tenant"`
	Project string `json:"project_id"`
	Name    string `json:"name"`
	Spec    Spec   `json:"spec"`
	// Version is the log index of the last PutFleet: a placement planned
	// against another version is refused.
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// NodeReport is a node's last error for a fleet.
type NodeReport struct {
	Tenant  string    `json:"tenant"`
	Project string    `json:"project_id"`
	Fleet   string    `json:"fleet"`
	Node    string    `json:"node"`
	Kind    string    `json:"kind"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// Store is the fleets module. Its read accessors are safe for concurrent
// use and never block Apply.
type Store struct {
	tenancy *tenancy.Store
	servers *servers.Store
	cur     atomic.Pointer[data]
}

// data is one immutable version; stored values are never changed.
type data struct {
	fleets  table.Table[*Fleet]     // Key(tenant, project, name)
	reports table.Table[NodeReport] // Key(tenant, project, name, node)
	counts  table.Table[int]        // tenant -> fleets (derived)
}

// New returns an empty fleets module that checks tenants in ten and
// places servers in srv.
func New(ten *tenancy.Store, srv *servers.Store) *Store {
	s := &Store{tenancy: ten, servers: srv}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "fleets" }

type write struct {
	s       *Store
	fleets  *table.Txn[*Fleet]
	reports *table.Txn[NodeReport]
	counts  *table.Txn[int]
}

func (w *write) Commit() {
	w.s.cur.Store(&data{fleets: w.fleets.Commit(), reports: w.reports.Commit(), counts: w.counts.Commit()})
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, fleets: d.fleets.Txn(), reports: d.reports.Txn(), counts: d.counts.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func fleetKey(tenant, project, name string) string { return table.Key(tenant, project, name) }

// DropTenant implements consensus.TenantDropper (the servers module drops
// the tenant's server records itself).
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	w.fleets.DeletePrefix(table.Prefix(tenant))
	w.reports.DeletePrefix(table.Prefix(tenant))
	w.counts.Delete(tenant)
}

// Fleet returns one fleet.
func (s *Store) Fleet(tenant, project, name string) (Fleet, bool) {
	f, ok := s.cur.Load().fleets.Get(fleetKey(tenant, project, name))
	if !ok {
		return Fleet{}, false
	}
	return *f, true
}

// Fleets returns the fleets of a tenant's project ("" for every project),
// sorted by project and name.
func (s *Store) Fleets(tenant, project string) []Fleet {
	prefix := table.Prefix(tenant)
	if project != "" {
		prefix = table.Prefix(tenant, project)
	}
	var out []Fleet
	s.cur.Load().fleets.Walk(prefix, func(_ string, f *Fleet) bool { out = append(out, *f); return true })
	return out
}

// All returns every fleet of every tenant (the controller's and the
// nodes' view), sorted by tenant, project and name.
func (s *Store) All() []Fleet {
	var out []Fleet
	s.cur.Load().fleets.Walk("", func(_ string, f *Fleet) bool { out = append(out, *f); return true })
	return out
}

// Reports returns the nodes' errors for a fleet, by node.
func (s *Store) Reports(tenant, project, name string) []NodeReport {
	return s.cur.Load().reports.Values(table.Prefix(tenant, project, name))
}

// Report returns one node's error for a fleet.
func (s *Store) Report(tenant, project, name, node string) (NodeReport, bool) {
	return s.cur.Load().reports.Get(table.Key(tenant, project, name, node))
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) empty() bool { return c.d.fleets.Len() == 0 && c.d.reports.Len() == 0 }

// Hash writes nothing while the module is empty, then the fleets (spec as
// its canonical JSON) and the node reports, in key order.
func (c section) Hash(e *consensus.HashEncoder) {
	if c.empty() {
		return
	}
	e.Section("fleets", c.d.fleets.Len())
	c.d.fleets.Walk("", func(_ string, f *Fleet) bool {
		e.Str(f.Tenant)
		e.Str(f.Project)
		e.Str(f.Name)
		b, _ := json.Marshal(f.Spec) // maps marshal in key order
		e.Bytes(b)
		e.U64(f.Version)
		e.Time(f.CreatedAt)
		e.Time(f.UpdatedAt)
		e.Str(f.UpdatedBy)
		return true
	})
	e.Section("fleet_reports", c.d.reports.Len())
	c.d.reports.Walk("", func(_ string, r NodeReport) bool {
		e.Str(r.Tenant)
		e.Str(r.Project)
		e.Str(r.Fleet)
		e.Str(r.Node)
		e.Str(r.Kind)
		e.Str(r.Error)
		e.Time(r.At)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	if c.empty() {
		return nil
	}
	return consensus.FirstError(
		consensus.WriteList(w, "fleets", c.d.fleets.Values("")),
		consensus.WriteList(w, "fleet_reports", c.d.reports.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{"fleets": c.d.fleets.Len(), "fleet_reports": c.d.reports.Len()}
}

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		list    []*Fleet
		reports []NodeReport
	)
	if err := consensus.FirstError(src.Decode("fleets", &list), src.Decode("fleet_reports", &reports)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, f := range list {
		if err := s.tenancy.CheckTenantProject(tx, f.Tenant, f.Project); err != nil {
			return fmt.Errorf("fleet %q: %w", f.Name, err)
		}
		if err := f.Spec.Validate(); err != nil {
			return fmt.Errorf("fleet %q: %w", f.Name, err)
		}
		f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
		w.fleets.Put(fleetKey(f.Tenant, f.Project, f.Name), f)
		n, _ := w.counts.Get(f.Tenant)
		w.counts.Put(f.Tenant, n+1)
	}
	for _, r := range reports {
		r.At = r.At.UTC()
		w.reports.Put(table.Key(r.Tenant, r.Project, r.Fleet, r.Node), r)
	}
	return nil
}
