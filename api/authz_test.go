package api

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// The principals of the authorisation matrix, in column order.
var matrixPrincipals = []string{
	"operator", "tenant-admin A", "game-server A", "game-server A/rocket",
	"read-only A", "tenant-admin B", "revoked key", "expired key", "no credential",
	"matchmaker A",
}

// authzFixture is a harness with tenants acme (A) and bravo (B), one key
// per matrix principal, and the resources the matrix's requests name.
type authzFixture struct {
	*harness
	creds     []string // by matrixPrincipals index
	victimKey string   // an acme key to revoke
	spareOp   string   // an operator token id to revoke
	token     string   // an acme session token
}

const (
	fixtureBan     = "ban_0000000000000001"
	fixtureWebhook = "wh_00000000000000f1"
)

func newAuthzFixture(t *testing.T) *authzFixture {
	t.Helper()
	h := newHarness(t)
	f := &authzFixture{harness: h}
	for _, tn := range []string{"acme", "bravo"} {
		h.createTenant(tn)
		h.createProject(tn, "rocket")
	}
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
		Id: fixtureBan, Tenant: "acme", PlayerId: "cheater", Reason: "aimbot"}}})
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_CreateWebhook{CreateWebhook: &cassnetv1.CreateWebhook{
		Id: fixtureWebhook, Tenant: "acme", Url: "https://198.51.100.7/hook", Events: []string{"ban.created"},
		Secret: "whsec_" + strings.Repeat("ab", 32)}}})
	adminA, _ := h.newKey("acme", identity.RoleTenantAdmin, "", 0)
	gsA, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	gsAX, _ := h.newKey("acme", identity.RoleGameServer, "rocket", 0)
	roA, _ := h.newKey("acme", identity.RoleReadOnly, "", 0)
	adminB, _ := h.newKey("bravo", identity.RoleTenantAdmin, "", 0)
	revoked, revokedID := h.newKey("acme", identity.RoleTenantAdmin, "", 0)
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_RevokeApiKey{RevokeApiKey: &cassnetv1.RevokeAPIKey{Tenant: "acme", Id: revokedID}}})
	expired, _ := h.newKey("acme", identity.RoleTenantAdmin, "", time.Minute)
	_, f.victimKey = h.newKey("acme", identity.RoleReadOnly, "", 0)
	_, f.spareOp, _, _ = NewOperatorToken()
	_, spareID, sum, _ := NewOperatorToken()
	f.spareOp = spareID
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_CreateOperatorToken{CreateOperatorToken: &cassnetv1.CreateOperatorToken{
		Id: spareID, Name: "spare", SecretSha256: sum}}})
	f.token = h.issue(h.token, "acme", `{"player_id":"p1"}`).Token
	ugcFixture(h)
	h.clock.Advance(2 * time.Minute) // the expired key is now expired
	mmA, _ := h.newKey("acme", identity.RoleMatchmaker, "", 0)
	f.creds = []string{h.token, adminA, gsA, gsAX, roA, adminB, revoked, expired, "", mmA}
	return f
}

// request builds the matrix's request for a route: path parameters name
// fixture resources, and bodies are valid, so a permitted principal gets
// the route's success status.
func (f *authzFixture) request(rt route, tenant string) (string, string) {
	path := strings.NewReplacer(
		"{tenant}", tenant, "{ban}", fixtureBan, "{player}", "p1",
		"{key}", f.victimKey, "{session}", "ses_0123456789abcdef0123456789abcdef",
		"{token}", f.spareOp, "{topic}", "chat", "{server}", "gs-1",
		"{project}", "rocket", "{allocation}", "alloc_0000000000000001", "{node}", "a",
		"{webhook}", fixtureWebhook, "{event}", "evt_1_0",

		"{item}", fixtureItem, "{version}", fixtureVersion,
	).Replace(rt.path)
	body := map[string]string{
		"PUT /v1/cluster/settings":                       `{"audit_retention":500}`,
		"POST /v1/cluster/keyring":                       `{"action":"install","key":"AAAAAAAAAAAAAAAAAAAAAA=="}`,
		"POST /v1/cluster/join-tokens":                   `{"ttl_seconds":60}`,
		"POST /v1/tenants":                               `{"name":"newco"}`,
		"POST /v1/tenants/{tenant}/projects":             `{"name":"newgame"}`,
		"POST /v1/tenants/{tenant}/bans":                 `{"player_id":"p2","reason":"x"}`,
		"POST /v1/tenants/{tenant}/keys":                 `{"name":"k","role":"read-only"}`,
		"POST /v1/auth/operator-tokens":                  `{"name":"t"}`,
		"POST /v1/tenants/{tenant}/sessions":             `{"player_id":"p9"}`,
		"POST /v1/sessions/verify":                       `{"token":"` + f.token + `"}`,
		"POST /v1/tenants/{tenant}/allocations":          `{"selectors":[{"labels":{"mode":"ctf"}}]}`,
		"POST /v1/tenants/{tenant}/topics/{topic}/batch": `{"messages":[{"payload":"hi"}]}`,
		"PUT /v1/operator/autopilot":                     `{"target_voters":5}`,
		"POST /v1/tenants/{tenant}/webhooks":             `{"url":"https://198.51.100.7/x","events":["ban.created"]}`,
		"PATCH /v1/tenants/{tenant}/webhooks/{webhook}":  `{"description":"d"}`,
	}[rt.pattern()]
	if b, ok := ugcMatrixBodies[rt.pattern()]; ok {
		body = b
	}
	if rt.pattern() == "PUT /v1/cluster/snapshot" { // an archive of the fixture itself
		var b bytes.Buffer
		if _, err := f.store.SaveSnapshot(context.Background(), &b, consensus.ArchiveMeta{}); err != nil {
			panic(err)
		}
		body = b.String()
	}
	return path, body
}

// authzMatrix is the expected status of every route for each principal
// of matrixPrincipals, in order. A route without a row, or a row without
// a route, fails TestAuthorizationMatrix.
var authzMatrix = map[string]string{
	//                                                   op  adA gsA gsX roA adB rev exp none mmA
	"GET /v1/health":                                             "200 200 200 200 200 200 200 200 200 200",
	"GET /v1/ready":                                              "200 200 200 200 200 200 200 200 200 200",
	"GET /v1/version":                                            "200 200 200 200 200 200 200 200 200 200",
	"GET /metrics":                                               "200 200 200 200 200 200 200 200 200 200",
	"GET /v1/openapi.json":                                       "200 200 200 200 200 200 200 200 200 200",
	"GET /v1/metrics/history":                                    "200 200 200 200 200 200 401 401 401 200",
	"GET /v1/auth/jwks.json":                                     "200 200 200 200 200 200 200 200 200 200",
	"GET /v1/members":                                            "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/cluster/raft":                                       "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/cluster/settings":                                   "200 403 403 403 403 403 401 401 401 403",
	"PUT /v1/cluster/settings":                                   "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/cluster/keyring":                                    "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/cluster/keyring":                                   "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/cluster/join-tokens":                                "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/cluster/join-tokens":                               "201 403 403 403 403 403 401 401 401 403",
	"DELETE /v1/cluster/join-tokens/{token}":                     "404 403 403 403 403 403 401 401 401 403",
	"GET /v1/cluster/snapshot":                                   "200 403 403 403 403 403 401 401 401 403",
	"PUT /v1/cluster/snapshot":                                   "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/operator/autopilot":                                 "200 403 403 403 403 403 401 401 401 403",
	"PUT /v1/operator/autopilot":                                 "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/agent/leave":                                       "202 403 403 403 403 403 401 401 401 403",
	"GET /v1/audit":                                              "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/tenants":                                           "201 403 403 403 403 403 401 401 401 403",
	"GET /v1/tenants":                                            "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/tenants/{tenant}":                                   "200 200 200 200 200 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}":                                "204 403 403 403 403 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/projects":                         "201 201 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/projects":                          "200 200 200 200 200 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/audit":                             "200 200 403 403 200 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/bans":                             "201 201 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/bans":                              "200 200 403 403 200 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/bans/{ban}":                        "200 200 403 403 200 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}/bans/{ban}":                     "200 200 403 403 403 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/webhooks":                         "201 201 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/webhooks":                          "200 200 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/webhooks/{webhook}":                "200 200 403 403 403 404 401 401 401 403",
	"PATCH /v1/tenants/{tenant}/webhooks/{webhook}":              "200 200 403 403 403 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}/webhooks/{webhook}":             "204 204 403 403 403 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/webhooks/{webhook}/rotate-secret": "200 200 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/webhooks/{webhook}/deliveries":     "200 200 403 403 403 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{event}/redeliver": "404 404 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/players/{player}/ban":                             "200 200 200 200 200 404 401 401 401 403",
	"POST /v1/tenants/{tenant}/keys":                                            "201 201 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/keys":                                             "200 200 403 403 403 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}/keys/{key}":                                    "204 204 403 403 403 404 401 401 401 403",
	"POST /v1/auth/operator-tokens":                                             "201 403 403 403 403 403 401 401 401 403",
	"GET /v1/auth/operator-tokens":                                              "200 403 403 403 403 403 401 401 401 403",
	"DELETE /v1/auth/operator-tokens/{token}":                                   "204 403 403 403 403 403 401 401 401 403",
	"POST /v1/tenants/{tenant}/sessions":                                        "201 201 201 201 403 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}/sessions/{session}":                            "204 204 403 403 403 404 401 401 401 403",
	"DELETE /v1/tenants/{tenant}/players/{player}/sessions":                     "204 204 403 403 403 404 401 401 401 403",
	"POST /v1/sessions/verify":                                                  "200 200 200 200 200 200 401 401 401 200",
	"POST /v1/auth/keys/rotate":                                                 "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/tenants/{tenant}/topics/{topic}/messages":                         "202 202 202 202 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/topics/{topic}/events":                            "200 200 200 200 403 404 401 401 401 403",
	"GET /v1/pubsub/peers":                                                      "200 403 403 403 403 403 401 401 401 403",
	"GET /v1/tenants/{tenant}/servers":                                          "200 200 200 200 200 404 401 401 401 200",
	"GET /v1/tenants/{tenant}/servers/{server}":                                 "200 200 200 200 200 404 401 401 401 200",
	"POST /v1/tenants/{tenant}/servers/{server}/drain":                          "202 202 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/projects/{project}/servers/summary":               "200 200 200 200 200 404 401 401 401 200",
	"POST /v1/tenants/{tenant}/allocations":                                     "409 409 403 403 403 404 401 401 401 409",
	"GET /v1/tenants/{tenant}/allocations":                                      "200 200 403 403 200 404 401 401 401 200",
	"GET /v1/tenants/{tenant}/allocations/{allocation}":                         "404 404 403 403 404 404 401 401 401 404",
	"GET /v1/cluster/nodes":                                                     "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/cluster/nodes/{node}/drain":                                       "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/cluster/nodes/{node}/uncordon":                                    "200 403 403 403 403 403 401 401 401 403",
	"DELETE /v1/cluster/raft/peers/{peer}":                                      "404 403 403 403 403 403 401 401 401 403",
	"GET /debug/pprof/":                                                         "200 403 403 403 403 403 401 401 401 403",
	"POST /v1/tenants/{tenant}/topics/{topic}/batch":                            "202 202 202 202 403 404 401 401 401 403",
	// A plain GET (no Upgrade) of the WebSocket route is a 400 once
	// authorised; the upgrade itself is tested in stream_test.go.
	"GET /v1/tenants/{tenant}/stream": "400 400 400 400 403 404 401 401 401 403",
	// UGC: players are tested in ugc_authz_test.go.
	"POST " + ugcItems:                                         "201 201 403 403 403 404 401 401 401 403",
	"GET " + ugcItems:                                          "200 200 200 200 200 404 401 401 401 403",
	"GET " + ugcItem:                                           "200 200 200 200 200 404 401 401 401 403",
	"PATCH " + ugcItem:                                         "200 200 403 403 403 404 401 401 401 403",
	"DELETE " + ugcItem:                                        "204 204 403 403 403 404 401 401 401 403",
	"POST " + ugcItem + "/versions":                            "201 201 403 403 403 404 401 401 401 403",
	"GET " + ugcItem + "/versions":                             "200 200 200 200 200 404 401 401 401 403",
	"GET " + ugcItem + "/versions/{version}/download":          "302 302 302 302 302 404 401 401 401 403",
	"POST " + ugcItem + "/reports":                             "201 201 201 201 201 404 401 401 401 403",
	"POST " + ugcItem + "/moderation":                          "200 200 403 403 403 404 401 401 401 403",
	"GET /v1/tenants/{tenant}/projects/{project}/ugc/settings": "200 200 200 200 200 404 401 401 401 403",
	"PUT /v1/tenants/{tenant}/projects/{project}/ugc/settings": "200 200 403 403 403 404 401 401 401 403",
}

// TestAuthorizationMatrix runs every route of the table as every
// principal, each on a fresh fixture, and checks the status.
func TestAuthorizationMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, rt := range routes {
		row, ok := authzMatrix[rt.pattern()]
		if !ok {
			t.Errorf("%s: no row in authzMatrix; every route needs one", rt.pattern())
			continue
		}
		seen[rt.pattern()] = true
		want := strings.Fields(row)
		if len(want) != len(matrixPrincipals) {
			t.Fatalf("%s: row has %d columns", rt.pattern(), len(want))
		}
		for i, who := range matrixPrincipals {
			t.Run(rt.pattern()+"/"+who, func(t *testing.T) {
				f := newAuthzFixture(t)
				path, body := f.request(rt, "acme")
				rec := f.doAs(f.creds[i], rt.method, path, body)
				if got := strconv.Itoa(rec.Code); got != want[i] {
					t.Fatalf("status %s, want %s; body %s", got, want[i], rec.Body)
				}
			})
		}
	}
	for pattern := range authzMatrix {
		if !seen[pattern] {
			t.Errorf("authzMatrix row %q names no route", pattern)
		}
	}
}

// TestTenantIsolation: every key of tenant A gets the same 404 on every
// route of tenant B as on a tenant that does not exist, so it cannot tell
// whether B or its resources exist.
func TestTenantIsolation(t *testing.T) {
	f := newAuthzFixture(t)
	for _, rt := range routes {
		if !rt.tenantScoped() {
			continue
		}
		for i := 1; i <= 4; i++ { // the tenant A keys
			path, body := f.request(rt, "bravo")
			rec := f.doAs(f.creds[i], rt.method, path, body)
			ghostPath, _ := f.request(rt, "ghost")
			ghost := f.doAs(f.creds[i], rt.method, ghostPath, body)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s as %s on tenant B: %d, want 404", rt.pattern(), matrixPrincipals[i], rec.Code)
			}
			if strings.ReplaceAll(rec.Body.String(), "bravo", "ghost") != ghost.Body.String() {
				t.Errorf("%s: tenant B's 404 differs from a missing tenant's: %s vs %s", rt.pattern(), rec.Body, ghost.Body)
			}
		}
	}
	// Lists hold the principal's tenant only.
	adminA, adminB := f.creds[1], f.creds[5]
	f.doAs(adminB, "POST", "/v1/tenants/bravo/bans", `{"player_id":"pb","reason":"x"}`)
	for _, target := range []string{"/v1/tenants/acme/keys", "/v1/tenants/acme/audit?limit=1000", "/v1/tenants/acme/bans"} {
		rec := f.doAs(adminA, "GET", target, "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "bravo") || strings.Contains(rec.Body.String(), `"pb"`) {
			t.Errorf("GET %s as A: %d, leaks tenant B: %s", target, rec.Code, rec.Body)
		}
	}
	// A key of B verifying A's session learns nothing.
	wantReason(t, f.verify(adminB, f.token), reasonInvalid)
	wantReason(t, f.verify(adminA, f.token), reasonOK)
	// A game-server key scoped to rocket sees only rocket sessions.
	gsAX := f.creds[3]
	wantReason(t, f.verify(gsAX, f.token), reasonInvalid)
	rocket := f.issue(gsAX, "acme", `{"player_id":"p5"}`)
	if rocket.ProjectID != "rocket" {
		t.Fatalf("scoped key issued a session for project %q", rocket.ProjectID)
	}
	wantReason(t, f.verify(gsAX, rocket.Token), reasonOK)
	if rec := f.doAs(gsAX, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p5","project_id":"other"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("scoped key issued for another project: %d", rec.Code)
	}
	if rec := f.doAs(gsAX, "GET", "/v1/tenants/acme/players/cheater/ban?project_id=other", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("scoped key checked another project: %d", rec.Code)
	}
}
