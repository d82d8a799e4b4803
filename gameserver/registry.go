package gameserver

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/api"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Limits that keep the registry, and /metrics, bounded.
const (
	// DefaultMaxServers is how many game servers one node holds by default.
	DefaultMaxServers = 256
	// MaxMetricsPerServer is how many metric names one server may report.
	MaxMetricsPerServer = 32
	// MaxPlayersPerServer bounds one server's connected players.
	MaxPlayersPerServer = 4096
	maxLabels           = 16
	maxIDLen            = 128
)

// Info is what the node knows of one game server, as REST shows it.
type Info = api.GameServer

// entry is one registered server. Its fields are guarded by registry.mu.
type entry struct {
	info    Info
	state   cassnetv1.ServerState
	players map[string]conn // by player id
	labels  map[string]map[string]string
	events  []chan *cassnetv1.ServerEvent // WatchEvents streams

	// Replication (replicate.go). state is the lifecycle state this node
	// last knew good: the replicated record's, except unhealthy.
	unhealthy bool        // the health deadline passed; proposed unhealthy
	dirty     bool        // a local change is not replicated yet
	prop      *sync.Mutex // held while a proposal for this server is in flight; kept across re-registrations
	touched   time.Time   // when the last lifecycle proposal ended
	flushed   int         // the player count last replicated; -1: none
	reserved  time.Time   // while reserved: when the reservation ends
	// announced is the allocation last announced to the game server
	// (WatchEvents), and ending the one its last Ready ended: a Ready is
	// a compare-and-set on it, so a late or repeated Ready never ends a
	// match the game server has not been told of.
	announced, ending string
}

// conn is a connected player: its session, kept to re-check it.
type conn struct{ token, project string }

// registry is the servers registered on this node, keyed by tenant and
// server id. It is safe for concurrent use.
type registry struct {
	mu      sync.Mutex
	max     int
	servers map[key]*entry
}

type key struct{ tenant, id string }

func newRegistry(max int) *registry {
	return &registry{max: max, servers: make(map[key]*entry)}
}

// put registers (or re-registers) a server. It reports false when the node
// is full.
func (r *registry) put(info Info) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := key{info.Tenant, info.ID}
	old, exists := r.servers[k]
	if !exists && len(r.servers) >= r.max {
		return false
	}
	e := &entry{info: info, state: cassnetv1.ServerState_SERVER_STATE_STARTING,
		players: make(map[string]conn), labels: make(map[string]map[string]string), flushed: -1}
	e.info.State = stateName(e.state)
	e.prop, e.touched = &sync.Mutex{}, time.Now()
	if exists {
		e.events, e.prop = old.events, old.prop // open watches follow the new registration
	}
	r.servers[k] = e
	return true
}

// with runs fn on the server's entry under the lock. It reports false
// when there is no such server.
func (r *registry) with(tenant, id string, fn func(e *entry)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.servers[key{tenant, id}]
	if ok {
		fn(e)
	}
	return ok
}

// remove forgets a server.
func (r *registry) remove(tenant, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.servers, key{tenant, id})
}

// list copies the servers for which keep is true, sorted by tenant and id.
// healthy decides each server's Healthy from its last ping.
func (r *registry) list(keep func(Info) bool, healthy func(*time.Time) bool) []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Info
	for _, e := range r.servers {
		if keep(e.info) {
			out = append(out, e.snapshot(healthy))
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if a.Tenant != b.Tenant {
			return compare(a.Tenant, b.Tenant)
		}
		return compare(a.ID, b.ID)
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// snapshot is a deep copy of the entry's info. Called with the lock held.
func (e *entry) snapshot(healthy func(*time.Time) bool) Info {
	in := e.info
	in.Ports, in.Labels, in.Metrics = maps.Clone(in.Ports), maps.Clone(in.Labels), maps.Clone(in.Metrics)
	in.Players = slices.Sorted(maps.Keys(e.players))
	if in.Players == nil {
		in.Players = []string{}
	}
	in.PlayerCount = len(in.Players)
	for name, l := range e.labels {
		if len(l) > 0 {
			if in.MetricLabels == nil {
				in.MetricLabels = make(map[string]map[string]string, len(e.labels))
			}
			in.MetricLabels[name] = maps.Clone(l)
		}
	}
	if in.LastHealth != nil {
		t := *in.LastHealth
		in.LastHealth = &t
	}
	in.Healthy = healthy(in.LastHealth)
	return in
}

// broadcast sends ev to every WatchEvents stream of the entry, dropping it
// for a stream whose buffer is full (that stream is too slow to matter).
// Called with the lock held.
func (e *entry) broadcast(ev *cassnetv1.ServerEvent) {
	for _, ch := range e.events {
		select {
		case ch <- ev:
		default:
		}
	}
}

// stateName is a state's REST name: "starting", "ready", ...
func stateName(s cassnetv1.ServerState) string {
	switch s {
	case cassnetv1.ServerState_SERVER_STATE_STARTING:
		return "starting"
	case cassnetv1.ServerState_SERVER_STATE_READY:
		return "ready"
	case cassnetv1.ServerState_SERVER_STATE_ALLOCATED:
		return "allocated"
	case cassnetv1.ServerState_SERVER_STATE_DRAINING:
		return "draining"
	case cassnetv1.ServerState_SERVER_STATE_SHUTDOWN:
		return "shutdown"
	case cassnetv1.ServerState_SERVER_STATE_RESERVED:
		return "reserved"
	case cassnetv1.ServerState_SERVER_STATE_UNHEALTHY:
		return "unhealthy"
	}
	return "unspecified"
}

// stateOf is the enum of a replicated state name (UNSPECIFIED if unknown).
func stateOf(name string) cassnetv1.ServerState {
	for v := range cassnetv1.ServerState_name {
		if st := cassnetv1.ServerState(v); stateName(st) == name {
			return st
		}
	}
	return cassnetv1.ServerState_SERVER_STATE_UNSPECIFIED
}

// Forget drops a server from this node's registry without touching its
// replicated record: the node stopped its process (package fleet), so
// reconcile must not re-assert it.
func (s *Server) Forget(tenant, id string) { s.reg.remove(tenant, id) }
