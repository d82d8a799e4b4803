package servers

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Filter selects servers or allocations. Empty fields match everything.
type Filter struct {
	Project, Fleet, Node, State, ServerID string
	Labels                                map[string]string
}

func (f Filter) matchServer(s *Server) bool {
	if f.Project != "" && s.Project != f.Project || f.Fleet != "" && s.Fleet != f.Fleet ||
		f.Node != "" && s.Node != f.Node || f.State != "" && s.State != f.State ||
		f.ServerID != "" && s.ID != f.ServerID {
		return false
	}
	for k, v := range f.Labels {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}

// Server returns one server of a tenant.
func (s *Store) Server(tenant, id string) (Server, bool) {
	srv, ok := s.cur.Load().servers.Get(serverKey(tenant, id))
	if !ok {
		return Server{}, false
	}
	return *srv.clone(), true
}

// Servers returns the tenant's servers that pass f, sorted by id.
func (s *Store) Servers(tenant string, f Filter) []Server {
	var out []Server
	s.cur.Load().servers.Walk(table.Prefix(tenant), func(_ string, srv *Server) bool {
		if f.matchServer(srv) {
			out = append(out, *srv.clone())
		}
		return true
	})
	return out
}

// OnNode returns every server of every tenant recorded on node.
func (s *Store) OnNode(node string) []Server {
	d := s.cur.Load()
	var out []Server
	d.byNode.Walk(table.Prefix(node), func(k string, _ struct{}) bool {
		if srv, ok := d.servers.Get(k[len(table.Prefix(node)):]); ok {
			out = append(out, *srv.clone())
		}
		return true
	})
	return out
}

// Allocation returns one allocation of a tenant (kept for
// AllocationRetention).
func (s *Store) Allocation(tenant, id string) (Allocation, bool) {
	a, ok := s.cur.Load().allocations.Get(table.Key(tenant, id))
	if !ok {
		return Allocation{}, false
	}
	return a.clone(), true
}

// ByIdempotencyKey returns the allocation a tenant's idempotency key
// names, while it is retained.
func (s *Store) ByIdempotencyKey(tenant, key string) (Allocation, bool) {
	d := s.cur.Load()
	id, ok := d.idempotency.Get(idemKey(tenant, key))
	if !ok {
		return Allocation{}, false
	}
	a, ok := d.allocations.Get(table.Key(tenant, id))
	if !ok {
		return Allocation{}, false
	}
	return a.clone(), true
}

// Allocations returns the tenant's retained allocations that pass f
// (Project, Fleet, Node, ServerID), newest first.
func (s *Store) Allocations(tenant string, f Filter) []Allocation {
	var out []Allocation
	s.cur.Load().allocations.Walk(table.Prefix(tenant), func(_ string, a *Allocation) bool {
		if (f.Project == "" || a.Project == f.Project) && (f.Fleet == "" || a.Fleet == f.Fleet) &&
			(f.Node == "" || a.Node == f.Node) && (f.ServerID == "" || a.ServerID == f.ServerID) {
			out = append(out, a.clone())
		}
		return true
	})
	slices.SortFunc(out, func(a, b Allocation) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Summary counts a tenant's servers (in one project, or all when project
// is "") by state and by fleet, with players and capacity.
type Summary struct {
	Servers  int            `json:"servers"`
	Players  uint64         `json:"players"`
	Capacity uint64         `json:"capacity"`
	ByState  map[string]int `json:"by_state"`
	ByFleet  map[string]int `json:"by_fleet"`
	ByNode   map[string]int `json:"by_node"`
}

// Summarize returns the counts for tenant and project.
func (s *Store) Summarize(tenant, project string) Summary {
	sum := Summary{ByState: map[string]int{}, ByFleet: map[string]int{}, ByNode: map[string]int{}}
	for _, srv := range s.Servers(tenant, Filter{Project: project}) {
		sum.Servers++
		sum.Players += uint64(srv.Players)
		sum.Capacity += uint64(srv.Capacity)
		sum.ByState[srv.State]++
		sum.ByFleet[srv.Fleet]++
		sum.ByNode[srv.Node]++
	}
	return sum
}

// Schedulable reports whether node may get new allocations and servers.
func (s *Store) Schedulable(node string) bool {
	_, drained := s.cur.Load().nodes.Get(node)
	return !drained
}

// Drained returns the drained nodes, by name.
func (s *Store) Drained() []NodeState { return s.cur.Load().nodes.Values("") }

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) empty() bool {
	return c.d.servers.Len() == 0 && c.d.allocations.Len() == 0 && c.d.nodes.Len() == 0
}

// Hash writes nothing while the module is empty (a module added after the
// first release), then servers, allocations, idempotency keys and drained
// nodes, each in key order.
func (c section) Hash(e *consensus.HashEncoder) {
	if c.empty() {
		return
	}
	e.Section("servers", c.d.servers.Len())
	c.d.servers.Walk("", func(_ string, s *Server) bool {
		e.Str(s.Tenant)
		e.Str(s.ID)
		e.Str(s.Project)
		e.Str(s.Fleet)
		e.Str(s.Node)
		e.Str(s.Address)
		hashMap(e, s.Ports)
		hashMap(e, s.Labels)
		e.U64(uint64(s.Capacity))
		e.U64(uint64(s.Players))
		e.Str(s.State)
		e.OptTime(s.ReservedUntil)
		e.Str(s.AllocationID)
		hashMap(e, s.Annotations)
		e.Time(s.CreatedAt)
		e.Time(s.UpdatedAt)
		return true
	})
	e.Section("allocations", c.d.allocations.Len())
	c.d.allocations.Walk("", func(_ string, a *Allocation) bool {
		e.Str(a.Tenant)
		e.Str(a.ID)
		e.Str(a.Project)
		e.Str(a.Fleet)
		e.Str(a.ServerID)
		e.Str(a.Node)
		e.Str(a.Address)
		hashMap(e, a.Ports)
		e.Str(a.State)
		hashMap(e, a.Labels)
		hashMap(e, a.Annotations)
		e.Str(a.IdempotencyKey)
		e.Time(a.CreatedAt)
		e.Str(a.CreatedBy)
		return true
	})
	e.Section("drained_nodes", c.d.nodes.Len())
	c.d.nodes.Walk("", func(_ string, n NodeState) bool {
		e.Str(n.Node)
		e.Time(n.UpdatedAt)
		e.Str(n.UpdatedBy)
		return true
	})
}

func hashMap[V string | uint32](e *consensus.HashEncoder, m map[string]V) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	e.U64(uint64(len(keys)))
	for _, k := range keys {
		e.Str(k)
		e.Str(fmt.Sprint(m[k]))
	}
}

func (c section) Write(w *consensus.SectionWriter) error {
	if c.empty() {
		return nil
	}
	return consensus.FirstError(
		consensus.WriteList(w, "servers", c.d.servers.Values("")),
		consensus.WriteList(w, "allocations", c.d.allocations.Values("")),
		consensus.WriteList(w, "drained_nodes", c.d.nodes.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{"servers": c.d.servers.Len(), "allocations": c.d.allocations.Len(), "drained_nodes": c.d.nodes.Len()}
}

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		list   []*Server
		allocs []*Allocation
		nodes  []NodeState
	)
	if err := consensus.FirstError(src.Decode("servers", &list), src.Decode("allocations", &allocs), src.Decode("drained_nodes", &nodes)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, srv := range list {
		if err := s.tenancy.CheckTenantProject(tx, srv.Tenant, srv.Project); err != nil {
			return fmt.Errorf("server %q: %w", srv.ID, err)
		}
		if _, dup := w.servers.Get(serverKey(srv.Tenant, srv.ID)); dup || ValidateState("state", srv.State) != nil {
			return fmt.Errorf("server %q: duplicate or malformed", srv.ID)
		}
		srv.CreatedAt, srv.UpdatedAt, srv.ReservedUntil = srv.CreatedAt.UTC(), srv.UpdatedAt.UTC(), consensus.UTC(srv.ReservedUntil)
		w.put(nil, srv)
	}
	for _, a := range allocs {
		if !s.tenancy.TenantExists(tx, a.Tenant) {
			return fmt.Errorf("allocation %q: unknown tenant %q", a.ID, a.Tenant)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		w.putAllocation(a)
	}
	for _, n := range nodes {
		n.UpdatedAt = n.UpdatedAt.UTC()
		w.nodes.Put(n.Node, n)
	}
	return nil
}
