package api

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// GameServer is one game server, registered on some node through the
// local game-server API (package gameserver), as REST shows it.
type GameServer struct {
	ID          string             `json:"id"`
	Tenant      string             `json:"tenant"`
	ProjectID   string             `json:"project_id,omitempty"`
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
}

// GameServerList answers GET /v1/tenants/{tenant}/servers.
type GameServerList struct {
	Servers []GameServer `json:"servers"`
	// Unreachable names the members that did not answer in time; their
	// servers are missing from Servers.
	Unreachable []string `json:"unreachable"`
}

// GameServers is the game-server registry as the API sees it. Each node
// holds its own servers; a cluster-wide list asks the other members at
// read time. All methods are safe for concurrent use.
type GameServers interface {
	// List returns tenant's servers on this node and, unless local, on
	// every other alive member, asked over its REST API with cred (the
	// caller's own credential, so that each node authorises it). The
	// caller filters the answer through tenant isolation.
	List(ctx context.Context, cred, tenant string, local bool) GameServerList
	// Drain asks tenant's server id to drain, on this node or, unless
	// local, on whichever alive member holds it (asked with cred). It
	// reports whether some node had the server.
	Drain(ctx context.Context, cred, tenant, id string, local bool) bool
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
	cred, _ := credential(r)
	list := s.games.List(r.Context(), cred, tenant, r.URL.Query().Get("scope") == "local")
	list.Servers = slices.DeleteFunc(list.Servers, func(g GameServer) bool { return !p.canSee(g.Tenant, g.ProjectID) })
	if list.Servers == nil {
		list.Servers = []GameServer{}
	}
	if list.Unreachable == nil {
		list.Unreachable = []string{}
	}
	return list, true
}

// handleListServers lists a tenant's game servers across the cluster.
// ?scope=local lists this node's only (what other nodes ask each other).
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
