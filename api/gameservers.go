package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GameServer is one game server, registered on some node through the
// local game-server API (package gameserver), as REST shows it. The
// lifecycle fields (node, address, ports, labels, capacity, state,
// player_count, fleet, allocation) come from the replicated record, so
// every node answers them; the rest (session, players, metrics, health
// pings) is known only to the node the server talks to, and is empty in
// another node's answer.
type GameServer struct {
	ID          string             `json:"id"`
	Tenant      string             `json:"tenant"`
	ProjectID   string             `json:"project_id,omitempty"`
	Fleet       string             `json:"fleet,omitempty"`
	Node        string             `json:"node"`
	SessionID   string             `json:"session_id"`
	Address     string             `json:"address"`
	Ports       map[string]uint32  `json:"ports,omitempty"`
	Labels      map[string]string  `json:"labels,omitempty"`
	Capacity    uint32             `json:"capacity"`
	State       string             `json:"state"`
	Healthy     bool               `json:"healthy"`
	Players     []string           `json:"players"`
	PlayerCount int                `json:"player_count"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	// MetricLabels are the labels last sent with each metric. They are
	// not Prometheus labels.
	MetricLabels map[string]map[string]string `json:"metric_labels,omitempty"`
	RegisteredAt time.Time                    `json:"registered_at"`
	UpdatedAt    time.Time                    `json:"updated_at"`
	LastHealth   *time.Time                   `json:"last_health,omitempty"`
	// AllocationID and Annotations are the allocation the server holds
	// while allocated; ReservedUntil is set while reserved.
	AllocationID  string            `json:"allocation_id,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	ReservedUntil *time.Time        `json:"reserved_until,omitempty"`
	// Replicated is false for a server this node holds whose record is not
	// (yet) in the replicated state.
	Replicated bool `json:"replicated"`
}

// GameServerFilter narrows GET /v1/tenants/{tenant}/servers: each set
// field must match (query parameters project_id, fleet, node, state, and
// label=k=v, repeatable).
type GameServerFilter struct {
	Project, Fleet, Node, State string
	Labels                      map[string]string
}

// GameServerList answers GET /v1/tenants/{tenant}/servers.
type GameServerList struct {
	Servers []GameServer `json:"servers"`
	// Unreachable is kept for compatibility and is always empty: the list
	// is read from the replicated state, with no request to other nodes.
	Unreachable []string `json:"unreachable"`
}

// GameServers is the game-server registry as the API sees it: the
// replicated records, completed with what this node holds locally. All
// methods are safe for concurrent use.
type GameServers interface {
	// List returns tenant's servers, from this node's replica (only those
	// on this node if local). cred is the caller's credential, for
	// implementations that still ask other nodes. The caller filters the
	// answer through tenant isolation and GameServerFilter.
	List(ctx context.Context, cred, tenant string, local bool) GameServerList
	// Drain asks tenant's server id to drain (replicated as its state, so
	// the node it talks to sends the drain event). It reports whether the
	// server exists.
	Drain(ctx context.Context, cred, tenant, id string, local bool) bool
}

func (f GameServerFilter) match(g GameServer) bool {
	if f.Project != "" && g.ProjectID != f.Project || f.Fleet != "" && g.Fleet != f.Fleet ||
		f.Node != "" && g.Node != f.Node || f.State != "" && g.State != f.State {
		return false
	}
	for k, v := range f.Labels {
		if g.Labels[k] != v {
			return false
		}
	}
	return true
}

// serverFilter reads GameServerFilter from the query, or fails with a 400
// naming the parameter.
func serverFilter(r *http.Request) (GameServerFilter, error) {
	q := r.URL.Query()
	f := GameServerFilter{Project: q.Get("project_id"), Fleet: q.Get("fleet"), Node: q.Get("node"), State: q.Get("state")}
	switch f.State {
	case "", "starting", "ready", "reserved", "allocated", "draining", "shutdown", "unhealthy", "lost":
	default:
		return f, badRequest("state: unknown state %q", f.State)
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return f, badRequest("label: must be key=value, got %q", l)
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	return f, nil
}

// listGameServers is the visible part of the cluster-wide list, or false
// after answering 503.
func (s *Server) listGameServers(w http.ResponseWriter, r *http.Request, p Principal) (GameServerList, bool) {
	if s.games == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "the game-server api is not running on this node"))
		return GameServerList{}, false
	}
	tenant := r.PathValue("tenant")
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return GameServerList{}, false
	}
	f, err := serverFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return GameServerList{}, false
	}
	cred, _ := credential(r)
	list := s.games.List(r.Context(), cred, tenant, r.URL.Query().Get("scope") == "local")
	list.Servers = slices.DeleteFunc(list.Servers, func(g GameServer) bool { return !p.canSee(g.Tenant, g.ProjectID) || !f.match(g) })
	if list.Servers == nil {
		list.Servers = []GameServer{}
	}
	if list.Unreachable == nil {
		list.Unreachable = []string{}
	}
	return list, true
}

// handleListServers lists a tenant's game servers across the cluster,
// from this node's replica. ?scope=local lists this node's only.
func (s *Server) handleListServers(w http.ResponseWriter, r *http.Request, p Principal) {
	if list, ok := s.listGameServers(w, r, p); ok {
		writeJSON(w, http.StatusOK, list)
	}
}

// handleGetServer answers one game server, wherever it is registered.
func (s *Server) handleGetServer(w http.ResponseWriter, r *http.Request, p Principal) {
	list, ok := s.listGameServers(w, r, p)
	if !ok {
		return
	}
	id := r.PathValue("server")
	for _, g := range list.Servers {
		if g.ID == id {
			writeJSON(w, http.StatusOK, g)
			return
		}
	}
	s.fail(w, r, notFound("server %q not found", id))
}

// handleDrainServer asks a game server to drain (a drain event on its
// WatchEvents stream), wherever it is registered. ?scope=local only looks
// on this node (what other nodes ask each other). The body is ignored.
func (s *Server) handleDrainServer(w http.ResponseWriter, r *http.Request, p Principal) {
	list, ok := s.listGameServers(w, r, p)
	if !ok {
		return
	}
	id := r.PathValue("server")
	visible := slices.ContainsFunc(list.Servers, func(g GameServer) bool { return g.ID == id })
	cred, _ := credential(r)
	if !visible || !s.games.Drain(r.Context(), cred, r.PathValue("tenant"), id, r.URL.Query().Get("scope") == "local") {
		s.fail(w, r, notFound("server %q not found", id))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "draining": true})
}
