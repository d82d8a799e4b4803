package tenancy

import "github.com/cassandranet/cassnet/state/table"

// EditTenant and EditProject replace a committed record with fn's edit of
// a copy, behind the FSM's back, for the test that the hash covers every
// field.
func EditTenant(s *Store, name string, fn func(*Tenant)) {
	d := s.cur.Load()
	t, ok := d.tenants.Get(name)
	if !ok {
		panic("EditTenant: no tenant " + name)
	}
	fn(&t)
	w := s.begin(d)
	w.tenants.Put(name, t)
	s.cur.Store(&data{tenants: w.tenants.Commit(), projects: d.projects})
}

func EditProject(s *Store, tenant, name string, fn func(*Project)) {
	d := s.cur.Load()
	p, ok := d.projects.Get(table.Key(tenant, name))
	if !ok {
		panic("EditProject: no project " + tenant + "/" + name)
	}
	fn(&p)
	w := s.begin(d)
	w.projects.Put(table.Key(tenant, name), p)
	s.cur.Store(&data{tenants: d.tenants, projects: w.projects.Commit()})
}
