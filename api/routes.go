package api

import (
	"net/http"
	"strings"
)

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
func (rt *route) pattern() string { return rt.method + " " + rt.path }

// tenantScoped reports whether the path names a tenant: the authorisation
// layer then confines API keys to their own tenant before the handler
// runs.
func (rt *route) tenantScoped() bool { return strings.Contains(rt.path, "{tenant}") }

// limited reports whether the route is rate limited: every mutating route
// (which includes session creation). Verification is a POST but a read.
func (rt *route) limited() bool {
	return rt.method != http.MethodGet && rt.path != verifyPath
}

const verifyPath = "/v1/sessions/verify"

// The UGC item paths.
const (
	ugcItems = "/v1/tenants/{tenant}/projects/{project}/ugc/items"
	ugcItem  = ugcItems + "/{item}"
)

// streamPath is the streaming protocol's WebSocket (stream.go).
const streamPath = "/v1/tenants/{tenant}/stream"

// publishes reports whether the route publishes topic messages, which
// draw from their own rate-limit buckets (RateLimits.Publish).
func (rt *route) publishes() bool {
	return rt.method == http.MethodPost &&
		(strings.HasSuffix(rt.path, "/topics/{topic}/messages") || strings.HasSuffix(rt.path, "/topics/{topic}/batch"))
}

// routes is the one route table: the mux, the authorisation layer, the
// rate limiter, the metrics labels, the OpenAPI consistency test and the
// authorisation matrix test all read it.
var routes = []route{
	// Node and cluster status.
	{"GET", "/v1/health", public, (*Server).handleHealth},
	{"GET", "/v1/ready", public, (*Server).handleReady},
	{"GET", "/v1/version", public, (*Server).handleVersion},
	{"GET", "/metrics", public, (*Server).handleMetrics},
	{"GET", "/v1/metrics/history", authenticated, (*Server).handleMetricsHistory},
	{"GET", "/v1/openapi.json", public, (*Server).handleOpenAPI},
	{"GET", "/v1/members", operatorOnly, (*Server).handleMembers},
	{"GET", "/v1/cluster/raft", operatorOnly, (*Server).handleRaft},
	{"DELETE", "/v1/cluster/raft/peers/{peer}", operatorOnly, (*Server).handleRemovePeer},
	{"GET", "/v1/cluster/settings", operatorOnly, (*Server).handleGetSettings},
	{"PUT", "/v1/cluster/settings", operatorOnly, (*Server).handlePutSettings},
	{"GET", "/v1/cluster/keyring", operatorOnly, (*Server).handleGetKeyring},
	{"POST", "/v1/cluster/keyring", operatorOnly, (*Server).handleUpdateKeyring},
	{"GET", "/v1/cluster/join-tokens", operatorOnly, (*Server).handleListJoinTokens},
	{"POST", "/v1/cluster/join-tokens", operatorOnly, (*Server).handleCreateJoinToken},
	{"DELETE", "/v1/cluster/join-tokens/{token}", operatorOnly, (*Server).handleRevokeJoinToken},
	{"GET", "/v1/cluster/snapshot", operatorOnly, (*Server).handleSaveSnapshot},
	{"PUT", "/v1/cluster/snapshot", operatorOnly, (*Server).handleRestoreSnapshot},
	{"GET", "/v1/operator/autopilot", operatorOnly, (*Server).handleGetAutopilot},
	{"PUT", "/v1/operator/autopilot", operatorOnly, (*Server).handlePutAutopilot},
	{"POST", "/v1/agent/leave", operatorOnly, (*Server).handleLeave},
	{"GET", "/v1/audit", operatorOnly, (*Server).handleClusterAudit},
	{"GET", pprofPath, operatorOnly, (*Server).handlePprof},

	// Tenants and projects.
	{"POST", "/v1/tenants", operatorOnly, (*Server).handleCreateTenant},
	{"GET", "/v1/tenants", operatorOnly, (*Server).handleListTenants},
	{"GET", "/v1/tenants/{tenant}", tenantMember, (*Server).handleGetTenant},
	{"DELETE", "/v1/tenants/{tenant}", operatorOnly, (*Server).handleDeleteTenant},
	{"POST", "/v1/tenants/{tenant}/projects", tenantAdmin, (*Server).handleCreateProject},
	{"GET", "/v1/tenants/{tenant}/projects", tenantMember, (*Server).handleListProjects},
	{"GET", "/v1/tenants/{tenant}/audit", tenantReader, (*Server).handleAudit},

	// Bans.
	{"POST", "/v1/tenants/{tenant}/bans", tenantAdmin, (*Server).handleCreateBan},
	{"GET", "/v1/tenants/{tenant}/bans", tenantReader, (*Server).handleListBans},
	{"GET", "/v1/tenants/{tenant}/bans/{ban}", tenantReader, (*Server).handleGetBan},
	{"DELETE", "/v1/tenants/{tenant}/bans/{ban}", tenantAdmin, (*Server).handleRevokeBan},
	{"GET", "/v1/tenants/{tenant}/players/{player}/ban", tenantMember, (*Server).handleBanCheck},

	// API keys and operator tokens.
	{"POST", "/v1/tenants/{tenant}/keys", tenantAdmin, (*Server).handleCreateKey},
	{"GET", "/v1/tenants/{tenant}/keys", tenantAdmin, (*Server).handleListKeys},
	{"DELETE", "/v1/tenants/{tenant}/keys/{key}", tenantAdmin, (*Server).handleRevokeKey},
	{"POST", "/v1/auth/operator-tokens", operatorOnly, (*Server).handleCreateOperatorToken},
	{"GET", "/v1/auth/operator-tokens", operatorOnly, (*Server).handleListOperatorTokens},
	{"DELETE", "/v1/auth/operator-tokens/{token}", operatorOnly, (*Server).handleRevokeOperatorToken},

	// Player sessions and their signing keys.
	{"POST", "/v1/tenants/{tenant}/sessions", tenantSessions, (*Server).handleCreateSession},
	{"DELETE", "/v1/tenants/{tenant}/sessions/{session}", tenantAdmin, (*Server).handleRevokeSession},
	{"DELETE", "/v1/tenants/{tenant}/players/{player}/sessions", tenantAdmin, (*Server).handleRevokePlayerSessions},
	{"POST", verifyPath, authenticated, (*Server).handleVerifySession},
	{"GET", "/v1/auth/jwks.json", public, (*Server).handleJWKS},
	{"POST", "/v1/auth/keys/rotate", operatorOnly, (*Server).handleRotateSigningKey},

	// Topic messaging (package pubsub): tenant-admin and game-server keys.
	{"POST", "/v1/tenants/{tenant}/topics/{topic}/messages", tenantSessions, (*Server).handlePublish},
	{"POST", "/v1/tenants/{tenant}/topics/{topic}/batch", tenantSessions, (*Server).handlePublishBatch},
	{"GET", "/v1/tenants/{tenant}/topics/{topic}/events", tenantSessions, (*Server).handleTopicEvents},
	{"GET", streamPath, tenantSessions, (*Server).handleStream},
	{"GET", "/v1/pubsub/peers", operatorOnly, (*Server).handlePubSubPeers},

	// Game servers (package gameserver): soft state, asked of every node.
	{"GET", "/v1/tenants/{tenant}/servers", tenantServers, (*Server).handleListServers},
	{"GET", "/v1/tenants/{tenant}/servers/{server}", tenantServers, (*Server).handleGetServer},
	{"POST", "/v1/tenants/{tenant}/servers/{server}/drain", tenantAdmin, (*Server).handleDrainServer},
	{"GET", "/v1/tenants/{tenant}/projects/{project}/servers/summary", tenantServers, (*Server).handleServerSummary},

	// Allocation (package state/servers): any node hands out a server.
	{"POST", "/v1/tenants/{tenant}/allocations", tenantAllocate, (*Server).handleAllocate},
	{"GET", "/v1/tenants/{tenant}/allocations", tenantAllocations, (*Server).handleListAllocations},
	{"GET", "/v1/tenants/{tenant}/allocations/{allocation}", tenantAllocations, (*Server).handleGetAllocation},

	// Webhooks (state/webhooks, package webhook): tenant admins only.
	{"POST", "/v1/tenants/{tenant}/webhooks", tenantAdmin, (*Server).handleCreateWebhook},
	{"GET", "/v1/tenants/{tenant}/webhooks", tenantAdmin, (*Server).handleListWebhooks},
	{"GET", "/v1/tenants/{tenant}/webhooks/{webhook}", tenantAdmin, (*Server).handleGetWebhook},
	{"PATCH", "/v1/tenants/{tenant}/webhooks/{webhook}", tenantAdmin, (*Server).handleUpdateWebhook},
	{"DELETE", "/v1/tenants/{tenant}/webhooks/{webhook}", tenantAdmin, (*Server).handleDeleteWebhook},
	{"POST", "/v1/tenants/{tenant}/webhooks/{webhook}/rotate-secret", tenantAdmin, (*Server).handleRotateWebhookSecret},
	{"GET", "/v1/tenants/{tenant}/webhooks/{webhook}/deliveries", tenantAdmin, (*Server).handleWebhookDeliveries},
	{"POST", "/v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{event}/redeliver", tenantAdmin, (*Server).handleRedeliverWebhookEvent},

	// User-generated content (state/ugc, ugc/blob): players and the studio.
	{"POST", ugcItems, ugcWrite, (*Server).handleCreateUGCItem},
	{"GET", ugcItems, ugcRead, (*Server).handleListUGCItems},
	{"GET", ugcItem, ugcRead, (*Server).handleGetUGCItem},
	{"PATCH", ugcItem, ugcWrite, (*Server).handlePatchUGCItem},
	{"DELETE", ugcItem, ugcWrite, (*Server).handleDeleteUGCItem},
	{"POST", ugcItem + "/versions", ugcWrite, (*Server).handleCreateUGCVersion},
	{"GET", ugcItem + "/versions", ugcRead, (*Server).handleListUGCVersions},
	{"GET", ugcItem + "/versions/{version}/download", ugcRead, (*Server).handleUGCDownload},
	{"POST", ugcItem + "/reports", ugcRead, (*Server).handleReportUGCItem},
	{"POST", ugcItem + "/moderation", tenantAdmin, (*Server).handleModerateUGCItem},
	{"GET", "/v1/tenants/{tenant}/projects/{project}/ugc/settings", ugcRead, (*Server).handleGetUGCSettings},
	{"PUT", "/v1/tenants/{tenant}/projects/{project}/ugc/settings", tenantAdmin, (*Server).handlePutUGCSettings},

	// Nodes: load, drain and uncordon.
	{"GET", "/v1/cluster/nodes", operatorOnly, (*Server).handleListNodes},
	{"POST", "/v1/cluster/nodes/{node}/drain", operatorOnly, (*Server).handleDrainNode},
	{"POST", "/v1/cluster/nodes/{node}/uncordon", operatorOnly, (*Server).handleUncordonNode},
}
