package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/identity"
)

func TestKeyLifecycle(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	admin, adminID := h.newKey("acme", identity.RoleTenantAdmin, "", 0)

	rec := h.doAs(admin, "POST", "/v1/tenants/acme/keys", `{"name":"eu servers","role":"game-server","project_id":"rocket","ttl_seconds":3600}`)
	if rec.Code != http.StatusCreated || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	created := decodeBody[struct {
		keyView
		Key string `json:"key"`
	}](t, rec)
	if id, _, err := ParseAPIKey(created.Key); err != nil || id != created.ID || created.Role != "game-server" ||
		created.ProjectID != "rocket" || created.CreatedBy != "apikey:"+adminID ||
		!created.ExpiresAt.Equal(h.clock.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("created %+v (%v)", created, err)
	}
	// The key works at once, through either header.
	if rec := h.doWith("GET", "/v1/tenants/acme/players/p1/ban", "", "Bearer "+created.Key); rec.Code != http.StatusOK {
		t.Fatalf("bearer: %d", rec.Code)
	}
	req := h.doWithHeader("GET", "/v1/tenants/acme/players/p1/ban", "X-API-Key", created.Key)
	if req.Code != http.StatusOK {
		t.Fatalf("X-API-Key: %d %s", req.Code, req.Body)
	}

	// The list shows it without its secret; last_used_at appears after
	// the node flushes its coalesced key uses.
	list := decodeBody[struct {
		Keys []keyView `json:"keys"`
	}](t, h.doAs(admin, "GET", "/v1/tenants/acme/keys", ""))
	if len(list.Keys) != 2 || strings.Contains(h.doAs(admin, "GET", "/v1/tenants/acme/keys", "").Body.String(), "secret") {
		t.Fatalf("list %+v", list)
	}
	h.srv.flushKeyTouches(context.Background())
	k, _ := h.store.state.Identity.APIKey(created.ID)
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(h.clock.Now().Truncate(time.Second)) {
		t.Fatalf("last used %v", k.LastUsedAt)
	}
	if a := h.store.state.Audit.Entries("", 1)[0]; a.Action == "" || a.Index != h.store.Applied().Index()-1 {
		// the touch is not audited: the newest entry is older than it
		t.Fatalf("touch audited? newest %+v", a)
	}

	// Revoked: refused at once, and audited with the actor.
	if rec := h.doAs(admin, "DELETE", "/v1/tenants/acme/keys/"+created.ID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	wantError(t, h.doAs(created.Key, "GET", "/v1/tenants/acme/players/p1/ban", ""), http.StatusUnauthorized, "unauthenticated")
	if a := h.store.state.Audit.Entries("acme", 1)[0]; a.Action != "api_key.revoke" || a.Actor != "apikey:"+adminID || a.Target != created.ID {
		t.Fatalf("audit %+v", a)
	}
	wantError(t, h.doAs(admin, "DELETE", "/v1/tenants/acme/keys/"+created.ID, ""), http.StatusNotFound, "not_found")

	for _, body := range []string{`{"name":"x","role":"god"}`, `{"name":"","role":"read-only"}`,
		`{"name":"x","role":"read-only","project_id":"rocket"}`, `{"name":"x","role":"read-only","ttl_seconds":-1}`} {
		wantError(t, h.doAs(admin, "POST", "/v1/tenants/acme/keys", body), http.StatusBadRequest, "invalid_argument")
	}
	wantError(t, h.doAs(admin, "POST", "/v1/tenants/acme/keys", `{"name":"x","role":"game-server","project_id":"nope"}`), http.StatusNotFound, "not_found")

	// An expiring key stops working at its expiry.
	h.clock.Advance(2 * time.Hour)
	short := decodeBody[struct {
		Key string `json:"key"`
	}](t, h.doAs(admin, "POST", "/v1/tenants/acme/keys", `{"name":"short","role":"read-only","ttl_seconds":60}`))
	if rec := h.doAs(short.Key, "GET", "/v1/tenants/acme", ""); rec.Code != http.StatusOK {
		t.Fatalf("fresh key: %d", rec.Code)
	}
	h.clock.Advance(61 * time.Second)
	wantError(t, h.doAs(short.Key, "GET", "/v1/tenants/acme", ""), http.StatusUnauthorized, "unauthenticated")
}

// doWithHeader sends a request with one credential header.
func (h *harness) doWithHeader(method, target, header, value string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set(header, value)
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

func TestOperatorTokens(t *testing.T) {
	h := newHarness(t)
	rec := h.mustDo("POST", "/v1/auth/operator-tokens", `{"name":"ci","ttl_seconds":600}`, http.StatusCreated)
	tok := decodeBody[struct {
		operatorTokenView
		Token string `json:"token"`
	}](t, rec)
	if rec := h.doAs(tok.Token, "GET", "/v1/members", ""); rec.Code != http.StatusOK {
		t.Fatalf("new token: %d", rec.Code)
	}
	list := h.mustDo("GET", "/v1/auth/operator-tokens", "", http.StatusOK).Body.String()
	if !strings.Contains(list, tok.ID) || strings.Contains(list, "secret") {
		t.Fatalf("list %s", list)
	}
	// The new token revokes the admin token; then it cannot revoke itself,
	// the last one standing.
	if rec := h.doAs(tok.Token, "DELETE", "/v1/auth/operator-tokens/"+h.tokenID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke admin: %d %s", rec.Code, rec.Body)
	}
	wantError(t, h.do("GET", "/v1/members", ""), http.StatusUnauthorized, "unauthenticated")
	wantError(t, h.doAs(tok.Token, "DELETE", "/v1/auth/operator-tokens/"+tok.ID, ""), http.StatusConflict, "conflict")
	// It expires.
	h.clock.Advance(11 * time.Minute)
	wantError(t, h.doAs(tok.Token, "GET", "/v1/members", ""), http.StatusUnauthorized, "unauthenticated")
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.RateLimits = RateLimits{KeyRate: 1, KeyBurst: 2, TenantRate: 1, TenantBurst: 3}
	})
	h.createTenant("acme")
	k1, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	k2, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	create := func(key string) *httptest.ResponseRecorder {
		return h.doAs(key, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p1"}`)
	}
	for i := range 2 {
		if rec := create(k1); rec.Code != http.StatusCreated {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := create(k1) // the key's burst is spent
	wantError(t, rec, http.StatusTooManyRequests, codeRateLimited)
	if rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
	if rec := create(k2); rec.Code != http.StatusCreated { // the tenant's third
		t.Fatalf("second key: %d", rec.Code)
	}
	wantError(t, create(k2), http.StatusTooManyRequests, codeRateLimited) // the tenant's burst is spent
	// Reads are not limited; operators are not limited by default.
	for range 5 {
		if rec := h.doAs(k1, "GET", "/v1/tenants/acme/players/p1/ban", ""); rec.Code != http.StatusOK {
			t.Fatalf("read limited: %d", rec.Code)
		}
		h.mustDo("POST", "/v1/tenants/acme/sessions", `{"player_id":"p1"}`, http.StatusCreated)
	}
	h.clock.Advance(3 * time.Second)
	if rec := create(k1); rec.Code != http.StatusCreated {
		t.Fatalf("after refill: %d", rec.Code)
	}
	metrics := h.doWith("GET", "/metrics", "", "").Body.String()
	if !strings.Contains(metrics, `cassnet_http_rate_limited_total{route="POST /v1/tenants/{tenant}/sessions",tenant="acme"} 2`) {
		t.Fatalf("rate limit metric missing:\n%s", grepLines(metrics, "rate_limited"))
	}
}

func TestLimiterEviction(t *testing.T) {
	l := newLimiterSet(1, 1)
	now := time.Unix(1000, 0)
	for i := range maxLimiters + 10 {
		l.reserve(time.Duration(i).String(), now.Add(time.Duration(i)*time.Millisecond), 1)
	}
	if n := len(l.m); n > maxLimiters {
		t.Fatalf("limiter map grew to %d", n)
	}
}

func TestAuthFailuresAudited(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	key, id := h.newKey("acme", identity.RoleReadOnly, "", 0)
	wrong := key[:len(key)-4] + "AAAA"
	if wrong == key { // 1 in 16.7 million
		wrong = key[:len(key)-4] + "BBBB"
	}
	for range 3 {
		h.doAs(wrong, "GET", "/v1/tenants/acme", "")
	}
	h.doAs("cnk_garbage", "GET", "/v1/tenants/acme", "")
	h.doAs("", "GET", "/v1/tenants/acme", "")
	h.srv.flushAuthFailures(context.Background())
	got := map[string]audit.Entry{}
	for _, a := range h.store.state.Audit.Entries("", 10) {
		if a.Action == "auth.failure" {
			got[a.Actor+" "+a.Target] = a
		}
	}
	if a := got["apikey:"+id+" bad_secret"]; a.Tenant != "acme" || a.Detail != "count=3 node=node-a" {
		t.Fatalf("bad secret entry %+v (all: %+v)", a, got)
	}
	if _, ok := got["anonymous malformed"]; !ok {
		t.Fatalf("malformed not audited: %+v", got)
	}
	if _, ok := got["anonymous missing"]; !ok {
		t.Fatalf("missing not audited: %+v", got)
	}
	// Nothing buffered: no write.
	idx := h.store.Applied().Index()
	h.srv.flushAuthFailures(context.Background())
	if h.store.Applied().Index() != idx {
		t.Fatal("an empty flush wrote")
	}
	secret := key[strings.Index(key, ".")+1:]
	for _, where := range []string{h.logs.String(), h.doWith("GET", "/metrics", "", "").Body.String(),
		h.do("GET", "/v1/tenants/acme/audit", "").Body.String()} {
		if strings.Contains(where, secret) || strings.Contains(where, wrong[strings.Index(wrong, ".")+1:]) {
			t.Fatal("a secret leaked into logs, metrics or the audit log")
		}
	}
	// A flood of distinct unknown ids stays bounded.
	for range 2 * maxFailureKeys {
		k, _, _, _ := NewAPIKey()
		h.doAs(k, "GET", "/v1/tenants/acme", "")
	}
	if n := len(h.srv.failures.drain()); n > identity.MaxAuthFailureEntries {
		t.Fatalf("%d failure entries buffered", n)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
