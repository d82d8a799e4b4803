package tenancy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/tenancy"
)

func newHarness(t testing.TB) (*harness, *tenancy.Store) {
	t.Helper()
	s := tenancy.New()
	return newHarnessOver(t, []consensus.Module{s}), s
}

func TestTenantsAndProjects(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(createTenant("zeta"), createTenant("acme"), createTenant("mid"),
		createProject("acme", "b"), createProject("acme", "a"), createProject("mid", "a"))
	var names []string
	for _, tn := range s.Tenants() {
		names = append(names, tn.Name)
	}
	if !slices.Equal(names, []string{"acme", "mid", "zeta"}) {
		t.Errorf("Tenants = %v", names)
	}
	ps, err := s.Projects("acme")
	if err != nil || len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" {
		t.Errorf("Projects = %v, %v", ps, err)
	}
	if ps, err := s.Projects("zeta"); err != nil || ps == nil || len(ps) != 0 {
		t.Errorf("Projects(zeta) = %#v, %v; want an empty list", ps, err)
	}
	if _, err := s.Projects("nope"); !errors.Is(err, consensus.ErrNotFound) {
		t.Errorf("Projects(nope) err = %v", err)
	}
	if p, ok := s.Project("acme", "a"); !ok || p.Tenant != "acme" || p.CreatedBy != "op:alice" {
		t.Errorf("Project = %+v, %v", p, ok)
	}
	// A tenant whose name is a prefix of another's shares no projects.
	h.mustApply(createTenant("ac"), createProject("ac", "x"))
	if ps, _ := s.Projects("ac"); len(ps) != 1 || ps[0].Name != "x" {
		t.Errorf("Projects(ac) = %v", ps)
	}
	// Deleting a tenant deletes its projects, not a prefix-sharing one's.
	h.mustApply(deleteTenant("ac"))
	if ps, _ := s.Projects("acme"); len(ps) != 2 {
		t.Errorf("Projects(acme) after deleting ac = %v", ps)
	}
	h.mustApply(createTenant("ac"))
	if ps, _ := s.Projects("ac"); len(ps) != 0 {
		t.Errorf("projects survived their tenant: %v", ps)
	}
}

func TestHashCoversEveryTenancyField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _ := newHarness(t)
		h.mustApply(createTenant("acme"), createProject("acme", "shooter"))
		return h
	}
	store := func(h *harness) *tenancy.Store { return h.modules[0].(*tenancy.Store) }
	hashCoversFields(t, setup, func(h *harness, fn func(*tenancy.Tenant)) { tenancy.EditTenant(store(h), "acme", fn) })
	hashCoversFields(t, setup, func(h *harness, fn func(*tenancy.Project)) {
		tenancy.EditProject(store(h), "acme", "shooter", fn)
	})
}
