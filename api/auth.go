package api

import (
	"net/http"

	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/ugc"
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
	// PrincipalPlayer authenticated with a player's session token. It may
	// call only the UGC routes (ugcRead, ugcWrite) and plugin RPCs
	// (tenantRPC), in its session's tenant
	// and project, and may change only the items it owns (see ugcWrite).
	PrincipalPlayer = "player"
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
	Tenant  string // API keys and players
	Role    string // API keys only: an identity.Role* constant
	Project string // API keys and players: optional project scope
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
	if p.Kind != PrincipalAPIKey && p.Kind != PrincipalPlayer || p.Tenant != tenant {
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
	// ugcRead routes read UGC: players of the tenant (what they may see of
	// each item is ugcVisible's business), and every key role but
	// matchmaker.
	ugcRead
	// ugcWrite routes change UGC items: players (their own items only,
	// see ugcWrite) and tenant-admin keys.
	ugcWrite
	// tenantRPC routes call plugin RPCs: tenant-admin and game-server
	// keys, and players with a valid session token of the tenant.
	tenantRPC
)

// String names the access level, for test failures and docs.
func (a access) String() string {
	return [...]string{"public", "authenticated", "operator", "tenant-member",
		"tenant-reader", "tenant-sessions", "tenant-admin", "tenant-servers",
		"tenant-allocate", "tenant-allocations", "ugc-read", "ugc-write", "tenant-rpc"}[a]
}

// permits is the role check: whether p may call a route needing a.
// Operators may do everything. Which tenant an API key may touch is
// canSee's business, checked before this.
func (a access) permits(p Principal) bool {
	if a == public || p.Kind == PrincipalOperator {
		return true
	}
	if p.Kind == PrincipalPlayer {
		// A player acts on UGC (never under the owner name the studio's
		// items carry) and calls plugin RPCs; nothing else.
		return (a == ugcRead || a == ugcWrite) && p.ID != ugc.OwnerStudio || a == tenantRPC
	}
	if p.Kind != PrincipalAPIKey {
		return false
	}
	switch a {
	case ugcRead:
		return p.Role != identity.RoleMatchmaker
	case ugcWrite:
		return p.Role == identity.RoleTenantAdmin
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
	case tenantRPC:
		return p.Role == identity.RoleTenantAdmin || p.Role == identity.RoleGameServer
	}
	return false
}

var (
	errMissingCredentials = &apiError{
		status:  http.StatusUnauthorized,
		code:    codeUnauthenticated,
		message: `an "Authorization: Bearer <token>" or "X-API-Key: <key>" header is required`,
	}
	// errCatchingUp answers a credential this node does not know yet while
	// it has not caught up with the leader (just restarted, or cut off): the
	// credential may well exist, so the client is told to retry, not that
	// it is wrong, and no authentication failure is recorded.
	errCatchingUp = &apiError{
		status:  http.StatusServiceUnavailable,
		code:    codeNotReady,
		message: "the node is catching up with the cluster and does not know this credential yet; retry",
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
	var p Principal
	var ae *apiError
	cred, hasCred := credential(r)
	if !hasCred && rt.certRoute() {
		var byCert bool
		if p, ae, byCert = s.authClientCert(r); !byCert {
			p, ae = s.authenticate(cred, hasCred)
		}
	} else {
		p, ae = s.authenticate(cred, hasCred)
	}
	if ae != nil {
		switch ae {
		case errInvalidToken:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		case errCatchingUp:
			w.Header().Set("Retry-After", "1")
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

// The credential headers in canonical form (textproto.CanonicalMIMEHeaderKey):
// net/http canonicalises every received header name, so indexing the map
// with these finds exactly what Header.Get finds, without canonicalising
// the name on every request ("X-API-Key" is not canonical, so Get
// allocated a new string for it each time).
const (
	headerAuthorization = "Authorization"
	headerAPIKey        = "X-Api-Key" // "X-API-Key"
)

// headerValue is Header.Get for a key already in canonical form.
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// credential extracts the presented credential: "Authorization: Bearer
// <token-or-key>" first, else "X-API-Key: <key>".
func credential(r *http.Request) (string, bool) {
	if auth := headerValue(r.Header, headerAuthorization); auth != "" {
		return ParseCredential(auth, "")
	}
	return ParseCredential("", headerValue(r.Header, headerAPIKey))
}

// UGC ownership: the rules that, after the route's access level, decide
// what a principal may do to one item. Operators and tenant-admin keys
// manage every item of their tenant; other studio keys (read-only,
// game-server) read every item; a player reads what ugcVisible allows and
// changes only the items it owns.

// ugcOwner is the owner of the items p creates.
func (p Principal) ugcOwner() string {
	if p.Kind == PrincipalPlayer {
		return p.ID
	}
	return ugc.OwnerStudio
}

// ugcStudio reports whether p reads every item of the tenant.
func (p Principal) ugcStudio() bool { return p.Kind == PrincipalOperator || p.Kind == PrincipalAPIKey }

// ugcVisible reports whether p may see it: the studio sees everything; a
// player sees its own items, and others' that are approved and not
// private (unlisted ones by id; the query lists only public ones).
func (p Principal) ugcVisible(it *ugc.Item) bool {
	if p.ugcStudio() || it.Owner == p.ID {
		return true
	}
	return it.Visibility != ugc.VisibilityPrivate && it.State == ugc.StateApproved
}

// ugcListed reports whether a query lists it for p.
func (p Principal) ugcListed(it *ugc.Item) bool {
	if p.ugcStudio() || it.Owner == p.ID {
		return true
	}
	return it.Visibility == ugc.VisibilityPublic && it.State == ugc.StateApproved
}

// ugcWrite decides whether p may change it: nil if so; 404 if p cannot
// see it at all (so nothing leaks); 403 if p sees it but does not own it.
func (p Principal) ugcWrite(it *ugc.Item) error {
	switch {
	case p.Kind == PrincipalOperator || p.Kind == PrincipalAPIKey && p.Role == identity.RoleTenantAdmin:
		return nil
	case p.Kind == PrincipalPlayer && it.Owner == p.ID:
		return nil
	case !p.ugcVisible(it):
		return notFound("item %q not found", it.ID)
	}
	return errorf(http.StatusForbidden, codePermissionDenied, "item %q belongs to another owner", it.ID)
}
