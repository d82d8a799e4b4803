package api

import (
	"net/http"

	"github.com/cassandranet/cassnet/state/identity"
)

// Principal kinds.
const (
	// PrincipalOperator authenticated with an operator token. It may do
	// everything, in every tenant.
	PrincipalOperator = "operator"
	// PrincipalAPIKey authenticated with a tenant API key. It is confined
	// to its tenant (and, for scoped game-server keys, its project) and
	// limited by its role.
	PrincipalAPIKey = "apikey"
	// PrincipalNode is this node acting on its own behalf (flushing
	// aggregated authentication failures and key uses). It never
	// authenticates a request.
	PrincipalNode = "node"
)

// Principal is an authenticated caller. Kind says how it authenticated
// and ID which credential it used (the token or key id, never the
// secret). API keys also carry their tenant, role and optional project.
type Principal struct {
	Kind    string
	ID      string
	Tenant  string // API keys only
	Role    string // API keys only: an identity.Role* constant
	Project string // API keys only: optional project scope
	// Server, when set, is the one game server this credential may act
	// as: a fleet server's CN_KEY (see ServerKeys).
	Server string
}

// Actor is the principal as written into commands and the audit log,
// e.g. "operator:0123456789abcdef" or "apikey:89abcdef01234567".
func (p Principal) Actor() string { return p.Kind + ":" + p.ID }

// canSee is tenant isolation, the one rule every route and every
// tenant-bearing answer goes through: operators see every tenant; an API
// key sees only its own tenant and, if it is scoped, only its project.
// Callers answer "not found" (never "forbidden") when it is false, so a
// key is never told whether another tenant's resource exists.
func (p Principal) canSee(tenant, project string) bool {
	if p.Kind == PrincipalOperator {
		return true
	}
	if p.Kind != PrincipalAPIKey || p.Tenant != tenant {
		return false
	}
	return p.Project == "" || project == p.Project
}

// scopeProject applies a scoped key's project to a request's project_id:
// empty becomes the key's project, the key's project passes, and any other
// project answers 404 (the key cannot see it). Unscoped principals get
// requested back unchanged.
func (p Principal) scopeProject(requested string) (string, error) {
	if p.Project == "" || requested == p.Project {
		return requested, nil
	}
	if requested == "" {
		return p.Project, nil
	}
	return "", notFound("project %q not found", requested)
}

// access is what a route requires of its caller. The route table names
// one per route; wrap enforces it before the handler runs, so no handler
// checks credentials itself.
type access int

const (
	// public routes need no credentials (health, metrics, JWKS...).
	public access = iota
	// authenticated routes accept any principal (session verification).
	authenticated
	// operatorOnly routes administer the cluster and every tenant.
	operatorOnly
	// tenantMember routes accept any role of the {tenant} in the path.
	tenantMember
	// tenantReader routes accept tenant-admin and read-only keys.
	tenantReader
	// tenantSessions routes accept tenant-admin and game-server keys.
	tenantSessions
	// tenantAdmin routes accept tenant-admin keys.
	tenantAdmin
	// tenantServers routes read game servers: any role, matchmaker too.
	tenantServers
	// tenantAllocate routes allocate: tenant-admin and matchmaker keys.
	tenantAllocate
	// tenantAllocations routes read allocations: tenant-admin, read-only
	// and matchmaker keys.
	tenantAllocations
)

// String names the access level, for test failures and docs.
func (a access) String() string {
	return [...]string{"public", "authenticated", "operator", "tenant-member",
		"tenant-reader", "tenant-sessions", "tenant-admin", "tenant-servers",
		"tenant-allocate", "tenant-allocations"}[a]
}

// permits is the role check: whether p may call a route needing a.
// Operators may do everything. Which tenant an API key may touch is
// canSee's business, checked before this.
func (a access) permits(p Principal) bool {
	if a == public || p.Kind == PrincipalOperator {
		return true
	}
	if p.Kind != PrincipalAPIKey {
		return false
	}
	switch a {
	case authenticated:
		return true
	case tenantMember:
		// A matchmaker may allocate and read servers and allocations,
		// and nothing else.
		return p.Role != identity.RoleMatchmaker
	case tenantServers:
		return true
	case tenantAllocate:
		return p.Role == identity.RoleTenantAdmin || p.Role == identity.RoleMatchmaker
	case tenantAllocations:
		return p.Role == identity.RoleTenantAdmin || p.Role == identity.RoleReadOnly || p.Role == identity.RoleMatchmaker
	case tenantReader:
		return p.Role == identity.RoleTenantAdmin || p.Role == identity.RoleReadOnly
	case tenantSessions:
		return p.Role == identity.RoleTenantAdmin || p.Role == identity.RoleGameServer
	case tenantAdmin:
		return p.Role == identity.RoleTenantAdmin
	}
	return false
}

var (
	errMissingCredentials = &apiError{
		status:  http.StatusUnauthorized,
		code:    codeUnauthenticated,
		message: `an "Authorization: Bearer <token>" or "X-API-Key: <key>" header is required`,
	}
	errInvalidToken = &apiError{
		status:  http.StatusUnauthorized,
		code:    codeUnauthenticated,
		message: "the credential is invalid",
	}
	errForbidden = &apiError{
		status:  http.StatusForbidden,
		code:    codePermissionDenied,
		message: "the principal may not call this route",
	}
)

// authorize is the single authorisation layer. In order: authenticate
// (401), tenant isolation on the route's {tenant} (404, decided before
// anything about the tenant is looked up), the route's role (403). On
// failure it has already written the response and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, rt *route) (Principal, bool) {
	if rt.access == public {
		return Principal{}, true
	}
	p, ae := s.authenticate(r)
	if ae != nil {
		if ae == errInvalidToken {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		writeError(w, ae)
		return Principal{}, false
	}
	if rt.tenantScoped() {
		if tenant := r.PathValue("tenant"); !p.canSee(tenant, p.Project) {
			writeError(w, notFound("tenant %q not found", tenant))
			return Principal{}, false
		}
	}
	if !rt.access.permits(p) {
		writeError(w, errForbidden)
		return Principal{}, false
	}
	return p, true
}

// credential extracts the presented credential: "Authorization: Bearer
// <token-or-key>" first, else "X-API-Key: <key>".
func credential(r *http.Request) (string, bool) {
	return ParseCredential(r.Header.Get("Authorization"), r.Header.Get("X-API-Key"))
}
