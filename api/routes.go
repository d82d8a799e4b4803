package api

import "net/http"

// handlerFunc is the shape of every route handler. p is the authenticated
// principal (zero for public routes). Handlers answer through writeJSON and
// fail; they never check credentials themselves.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, p Principal)

// route is one entry of the route table.
type route struct {
	method string
	path   string // Go 1.22 ServeMux path, e.g. /v1/tenants/{tenant}
	access access
	handle handlerFunc
}

// pattern is the ServeMux pattern, also the "route" metric label.
func (rt route) pattern() string { return rt.method + " " + rt.path }

// routes is the one route table: the mux, the authorisation layer, the
// metrics labels and the OpenAPI consistency test all read it.
var routes = []route{
	// Node and cluster status.
	{"GET", "/v1/health", public, (*Server).handleHealth},
	{"GET", "/v1/ready", public, (*Server).handleReady},
	{"GET", "/v1/version", public, (*Server).handleVersion},
	{"GET", "/metrics", public, (*Server).handleMetrics},
	{"GET", "/v1/openapi.json", public, (*Server).handleOpenAPI},
	{"GET", "/v1/members", operatorOnly, (*Server).handleMembers},
	{"GET", "/v1/cluster/raft", operatorOnly, (*Server).handleRaft},
	{"GET", "/v1/cluster/settings", operatorOnly, (*Server).handleGetSettings},
	{"PUT", "/v1/cluster/settings", operatorOnly, (*Server).handlePutSettings},
	{"POST", "/v1/agent/leave", operatorOnly, (*Server).handleLeave},

	// Tenants and projects.
	{"POST", "/v1/tenants", operatorOnly, (*Server).handleCreateTenant},
	{"GET", "/v1/tenants", operatorOnly, (*Server).handleListTenants},
	{"GET", "/v1/tenants/{tenant}", operatorOnly, (*Server).handleGetTenant},
	{"DELETE", "/v1/tenants/{tenant}", operatorOnly, (*Server).handleDeleteTenant},
	{"POST", "/v1/tenants/{tenant}/projects", operatorOnly, (*Server).handleCreateProject},
	{"GET", "/v1/tenants/{tenant}/projects", operatorOnly, (*Server).handleListProjects},
	{"GET", "/v1/tenants/{tenant}/audit", operatorOnly, (*Server).handleAudit},

	// Bans.
	{"POST", "/v1/tenants/{tenant}/bans", operatorOnly, (*Server).handleCreateBan},
	{"GET", "/v1/tenants/{tenant}/bans", operatorOnly, (*Server).handleListBans},
	{"GET", "/v1/tenants/{tenant}/bans/{ban}", operatorOnly, (*Server).handleGetBan},
	{"DELETE", "/v1/tenants/{tenant}/bans/{ban}", operatorOnly, (*Server).handleRevokeBan},
	{"GET", "/v1/tenants/{tenant}/players/{player}/ban", operatorOnly, (*Server).handleBanCheck},
}
