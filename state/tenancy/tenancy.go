// Package tenancy owns tenants (studios) and their projects (game titles):
// their replicated records, the commands that create and delete them, and
// the read accessors. Deleting a tenant here is what tells every other
// module to drop the tenant's data, through consensus.Tx.DropTenant, in
// the same log entry.
//
// It must not know what other modules keep per tenant, and must not touch
// HTTP or Raft.
package tenancy

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Tenant is a studio. Its name is its identifier.
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Project is a game title inside a tenant. Its name is its identifier
// within the tenant.
type Project struct {
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Store is the tenancy module. Its read accessors are safe for concurrent
// use and never block Apply (see consensus.Module).
type Store struct {
	cur atomic.Pointer[data]
}

type data struct {
	tenants  table.Table[Tenant]  // by name
	projects table.Table[Project] // by Key(tenant, name)
}

// New returns an empty tenancy module.
func New() *Store {
	s := &Store{}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "tenancy" }

type write struct {
	s        *Store
	tenants  *table.Txn[Tenant]
	projects *table.Txn[Project]
}

func (w *write) Commit() {
	w.s.cur.Store(&data{tenants: w.tenants.Commit(), projects: w.projects.Commit()})
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, tenants: d.tenants.Txn(), projects: d.projects.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

// view reads tx's staged changes if there are any, else the committed
// state.
type view struct {
	tenants  table.Reader[Tenant]
	projects table.Reader[Project]
}

func (s *Store) view(tx *consensus.Tx) view {
	if w, ok := tx.Staged(s).(*write); ok {
		return view{w.tenants, w.projects}
	}
	d := s.cur.Load()
	return view{d.tenants, d.projects}
}

// CheckTenantProject, for other modules' handlers, checks inside tx that
// tenant exists and, if project is not empty, that it is one of the
// tenant's projects. The error wraps consensus.ErrNotFound.
func (s *Store) CheckTenantProject(tx *consensus.Tx, tenant, project string) error {
	v := s.view(tx)
	if _, ok := v.tenants.Get(tenant); !ok {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", tenant)
	}
	if project != "" {
		if _, ok := v.projects.Get(table.Key(tenant, project)); !ok {
			return consensus.NewError(consensus.ErrNotFound, "project %q in tenant %q", project, tenant)
		}
	}
	return nil
}

// TenantExists reports, inside tx, whether tenant exists.
func (s *Store) TenantExists(tx *consensus.Tx, tenant string) bool {
	_, ok := s.view(tx).tenants.Get(tenant)
	return ok
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateTenant]{
		Validate: func(op *cassnetv1.CreateTenant) error { return consensus.ValidateName("name", op.GetName()) },
		Apply:    s.createTenant,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.DeleteTenant]{
		Validate: func(op *cassnetv1.DeleteTenant) error { return consensus.ValidateName("name", op.GetName()) },
		Apply:    s.deleteTenant,
	})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateProject]{
		Validate: func(op *cassnetv1.CreateProject) error {
			return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), consensus.ValidateName("name", op.GetName()))
		},
		Apply: s.createProject,
	})
}

func (s *Store) createTenant(tx *consensus.Tx, op *cassnetv1.CreateTenant) error {
	name := op.GetName()
	w := s.write(tx)
	if _, ok := w.tenants.Get(name); ok {
		return consensus.NewError(consensus.ErrConflict, "tenant %q already exists", name)
	}
	w.tenants.Put(name, Tenant{Name: name, CreatedAt: tx.Time, CreatedBy: tx.Actor})
	tx.Emit(consensus.Event{Action: "tenant.create", Tenant: name, Target: name})
	return nil
}

func (s *Store) deleteTenant(tx *consensus.Tx, op *cassnetv1.DeleteTenant) error {
	name := op.GetName()
	if !s.TenantExists(tx, name) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", name)
	}
	w := s.write(tx)
	w.tenants.Delete(name)
	w.projects.DeletePrefix(table.Prefix(name))
	// Every module drops what it keeps for the tenant, in this entry.
	tx.DropTenant(name)
	tx.Emit(consensus.Event{Action: "tenant.delete", Tenant: name, Target: name})
	return nil
}

func (s *Store) createProject(tx *consensus.Tx, op *cassnetv1.CreateProject) error {
	tenant, name := op.GetTenant(), op.GetName()
	if !s.TenantExists(tx, tenant) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", tenant)
	}
	w := s.write(tx)
	key := table.Key(tenant, name)
	if _, ok := w.projects.Get(key); ok {
		return consensus.NewError(consensus.ErrConflict, "project %q already exists in tenant %q", name, tenant)
	}
	w.projects.Put(key, Project{Tenant: tenant, Name: name, CreatedAt: tx.Time, CreatedBy: tx.Actor})
	tx.Emit(consensus.Event{Action: "project.create", Tenant: tenant, Target: name})
	return nil
}

// Tenants returns every tenant, sorted by name.
func (s *Store) Tenants() []Tenant { return s.cur.Load().tenants.Values("") }

// Tenant returns the named tenant.
func (s *Store) Tenant(name string) (Tenant, bool) { return s.cur.Load().tenants.Get(name) }

// Projects returns the tenant's projects sorted by name, or an error
// wrapping consensus.ErrNotFound if the tenant does not exist.
func (s *Store) Projects(tenant string) ([]Project, error) {
	d := s.cur.Load()
	if _, ok := d.tenants.Get(tenant); !ok {
		return nil, consensus.NewError(consensus.ErrNotFound, "tenant %q", tenant)
	}
	out := d.projects.Values(table.Prefix(tenant))
	if out == nil {
		out = []Project{}
	}
	return out, nil
}

// Project returns one project of a tenant.
func (s *Store) Project(tenant, name string) (Project, bool) {
	return s.cur.Load().projects.Get(table.Key(tenant, name))
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

// Hash writes tenants by name and projects by tenant and name.
func (c section) Hash(e *consensus.HashEncoder) {
	e.Section("tenants", c.d.tenants.Len())
	c.d.tenants.Walk("", func(_ string, t Tenant) bool {
		e.Str(t.Name)
		e.Time(t.CreatedAt)
		e.Str(t.CreatedBy)
		return true
	})
	e.Section("projects", c.d.projects.Len())
	c.d.projects.Walk("", func(_ string, p Project) bool {
		e.Str(p.Tenant)
		e.Str(p.Name)
		e.Time(p.CreatedAt)
		e.Str(p.CreatedBy)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	return consensus.FirstError(
		consensus.WriteList(w, "tenants", c.d.tenants.Values("")),
		consensus.WriteList(w, "projects", c.d.projects.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{"tenants": c.d.tenants.Len(), "projects": c.d.projects.Len()}
}

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var tenants []Tenant
	var projects []Project
	if err := consensus.FirstError(src.Decode("tenants", &tenants), src.Decode("projects", &projects)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, t := range tenants {
		if _, dup := w.tenants.Get(t.Name); dup || t.Name == "" {
			return fmt.Errorf("duplicate or empty tenant %q", t.Name)
		}
		t.CreatedAt = t.CreatedAt.UTC()
		w.tenants.Put(t.Name, t)
	}
	for _, p := range projects {
		if _, ok := w.tenants.Get(p.Tenant); !ok {
			return fmt.Errorf("project %q: unknown tenant %q", p.Name, p.Tenant)
		}
		key := table.Key(p.Tenant, p.Name)
		if _, dup := w.projects.Get(key); dup {
			return fmt.Errorf("duplicate project %q in tenant %q", p.Name, p.Tenant)
		}
		p.CreatedAt = p.CreatedAt.UTC()
		w.projects.Put(key, p)
	}
	return nil
}
