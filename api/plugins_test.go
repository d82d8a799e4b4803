package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
	"github.com/cassandranet/cassnet/state/identity"
)

// fakeHooks is a hooks.Runner and hooks.RPCs whose answers the test sets.
type fakeHooks struct {
	mu     sync.Mutex
	before func(hook string, c hooks.Caller, req []byte) ([]byte, error)
	after  []string
	rpc    func(c hooks.Caller, name string, payload []byte) ([]byte, error)
}

func (f *fakeHooks) Before(_ context.Context, hook string, c hooks.Caller, req []byte) ([]byte, error) {
	if f.before == nil {
		return req, nil
	}
	return f.before(hook, c, req)
}

func (f *fakeHooks) After(_ context.Context, hook string, _ hooks.Caller, req, res []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after = append(f.after, hook+" "+string(req)+" -> "+string(res))
}

func (f *fakeHooks) RPC(_ context.Context, c hooks.Caller, name string, payload []byte) ([]byte, error) {
	if f.rpc == nil {
		return nil, hooks.ErrNoRPC
	}
	return f.rpc(c, name, payload)
}

type fakeInspector struct{ err error }

func (f fakeInspector) Inspect(context.Context, string, []byte) (plugin.Manifest, error) {
	return plugin.Manifest{Name: "p", Version: "1", Hooks: []string{hooks.BeforeBanCreate}, RPCs: []string{}}, f.err
}

func newPluginHarness(t *testing.T) (*harness, *fakeHooks) {
	t.Helper()
	fh := &fakeHooks{}
	h := newHarness(t, func(c *Config) { c.Hooks = fh; c.Plugins = fakeInspector{} })
	h.createTenant("acme")
	return h, fh
}

func pluginErrorBody(t *testing.T, rec *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("not a JSON error: %s", rec.Body)
	}
	return e.Error.Code, e.Error.Message
}

func TestBanHooks(t *testing.T) {
	h, fh := newPluginHarness(t)
	hostile := `<script>alert(1)</script> "quoted" ` + "\u2028"
	fh.before = func(hook string, c hooks.Caller, req []byte) ([]byte, error) {
		if hook != hooks.BeforeBanCreate || c.Tenant != "acme" || c.Kind != "operator" {
			t.Errorf("hook %s caller %+v", hook, c)
		}
		var r map[string]any
		_ = json.Unmarshal(req, &r)
		switch r["reason"] {
		case "short":
			return nil, &hooks.Rejection{Plugin: "ban-policy", Status: 422, Message: hostile}
		case "amend me":
			return []byte(`{"player_id":"p1","reason":"amended","duration_seconds":60}`), nil
		case "amend badly":
			return []byte(`{"player_id":"p1","reason":"x","duration_seconds":-5}`), nil
		case "amend unknown":
			return []byte(`{"player_id":"p1","nope":1}`), nil
		case "fail":
			return nil, errors.New("plugin ban-policy failed: trap: wasm stack trace")
		}
		return req, nil
	}
	rec := h.do("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"short"}`)
	code, msg := pluginErrorBody(t, rec)
	if rec.Code != 422 || code != codeRejectedByPlugin || msg != hostile {
		t.Fatalf("rejection: %d %s %q", rec.Code, code, msg)
	}
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Fatalf("the plugin's message is not escaped: %s", rec.Body)
	}
	rec = h.mustDo("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"amend me"}`, http.StatusCreated)
	if !strings.Contains(rec.Body.String(), `"reason":"amended"`) || !strings.Contains(rec.Body.String(), `"expires_at":"`) {
		t.Fatalf("amended ban: %s", rec.Body)
	}
	if rec := h.do("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"amend badly"}`); rec.Code != 400 {
		t.Fatalf("an invalid amendment must be refused like a client's request: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"amend unknown"}`); rec.Code != http.StatusBadGateway {
		t.Fatalf("an unreadable amendment: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"fail"}`)
	if code, msg := pluginErrorBody(t, rec); rec.Code != 503 || code != codePluginFailed || strings.Contains(msg, "stack") {
		t.Fatalf("failure: %d %s %q", rec.Code, code, msg)
	}
	h.mustDo("POST", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"fine"}`, http.StatusCreated)
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if len(fh.after) != 2 || !strings.HasPrefix(fh.after[1], hooks.AfterBanCreate+` {"player_id":"p1","reason":"fine"} -> {"id":"ban_`) {
		t.Fatalf("after hooks: %q", fh.after)
	}
}

func TestSessionAndAllocationHooks(t *testing.T) {
	h, fh := newPluginHarness(t)
	seen := map[string]bool{}
	fh.before = func(hook string, c hooks.Caller, req []byte) ([]byte, error) {
		seen[hook] = true
		return nil, &hooks.Rejection{Plugin: "x", Status: 403, Message: "no " + hook}
	}
	if rec := h.do("POST", "/v1/tenants/acme/sessions", `{"player_id":"p1"}`); rec.Code != 403 || !strings.Contains(rec.Body.String(), "no before_session_create") {
		t.Fatalf("session: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("POST", "/v1/tenants/acme/allocations", `{"selectors":[{"labels":{"m":"x"}}]}`); rec.Code != 403 || !strings.Contains(rec.Body.String(), "no before_allocation") {
		t.Fatalf("allocation: %d %s", rec.Code, rec.Body)
	}
	fh.before = nil
	h.issue(h.token, "acme", `{"player_id":"p1"}`)
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if len(fh.after) != 1 || !strings.Contains(fh.after[0], `"token":""`) {
		t.Fatalf("the after-hook must not see the session token: %q", fh.after)
	}
}

func TestPluginRoutes(t *testing.T) {
	h, _ := newPluginHarness(t)
	put := func(body []byte, ct, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("PUT", "/v1/tenants/acme/plugins/ban-policy"+query, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+h.token)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		return rec
	}
	mod := []byte("\x00asm\x01\x00\x00\x00fake")
	if rec := put(mod, "application/json", ""); rec.Code != 415 {
		t.Fatalf("json upload: %d", rec.Code)
	}
	if rec := put(make([]byte, 8<<20+1), "application/wasm", ""); rec.Code != 413 {
		t.Fatalf("9 MiB upload: %d", rec.Code)
	}
	if rec := put(mod, "application/wasm", "?fail_open=maybe"); rec.Code != 400 {
		t.Fatalf("bad fail_open: %d", rec.Code)
	}
	rec := put(mod, "application/wasm", "?fail_open=true")
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"fail_open":true`) || !strings.Contains(rec.Body.String(), `"hooks":["before_ban_create"]`) {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	if rec := put(mod, "application/wasm", ""); rec.Code != 200 {
		t.Fatalf("replace: %d", rec.Code)
	}
	if rec := h.mustDo("GET", "/v1/tenants/acme/plugins/ban-policy?download=1", "", 200); rec.Body.String() != string(mod) || rec.Header().Get("Content-Type") != "application/wasm" {
		t.Fatalf("download: %q", rec.Body)
	}
	if rec := h.mustDo("GET", "/v1/tenants/acme/plugins", "", 200); !strings.Contains(rec.Body.String(), `"name":"ban-policy"`) || strings.Contains(rec.Body.String(), "fake") {
		t.Fatalf("list: %s", rec.Body)
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":` + strings.Repeat("1", 70<<10) + `}`} {
		if rec := h.do("PUT", "/v1/tenants/acme/plugins/ban-policy/config", bad); rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("config %.20s: %d", bad, rec.Code)
		}
	}
	if rec := h.mustDo("PUT", "/v1/tenants/acme/plugins/ban-policy/config", `{"max_seconds": 60}`, 200); !strings.Contains(rec.Body.String(), `"config":{"max_seconds":60}`) {
		t.Fatalf("config: %s", rec.Body)
	}
	h.mustDo("DELETE", "/v1/tenants/acme/plugins/ban-policy", "", 204)
	h.mustDo("GET", "/v1/tenants/acme/plugins/ban-policy", "", 404)

	bad := newHarness(t, func(c *Config) { c.Plugins = fakeInspector{err: errors.New("compile: <internal detail>")} })
	bad.createTenant("acme")
	h = bad
	if rec := put(mod, "application/wasm", ""); rec.Code != 422 || strings.Contains(rec.Body.String(), "internal detail") {
		t.Fatalf("a module that does not load: %d %s", rec.Code, rec.Body)
	}
}

// TestRPCAccess: players call RPCs with their session token, and only
// RPCs; a revoked or foreign token is refused.
func TestRPCAccess(t *testing.T) {
	h, fh := newPluginHarness(t)
	h.createTenant("bravo")
	fh.rpc = func(c hooks.Caller, name string, payload []byte) ([]byte, error) {
		if name == "fail" {
			return nil, &hooks.Rejection{Plugin: "hello-rpc", Status: 400, Message: "nope"}
		}
		return json.Marshal(map[string]string{"hello": c.Kind + ":" + c.ID, "html": "<b>"})
	}
	player := h.issue(h.token, "acme", `{"player_id":"p1"}`).Token
	rec := h.doAs(player, "POST", "/v1/tenants/acme/rpc/hello", `{"name":"ada"}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"hello":"player:p1"`) || strings.Contains(rec.Body.String(), "<b>") {
		t.Fatalf("player rpc: %d %s", rec.Code, rec.Body)
	}
	if rec := h.doAs(player, "POST", "/v1/tenants/acme/rpc/fail", `{}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), "nope") {
		t.Fatalf("rpc error: %d %s", rec.Code, rec.Body)
	}
	if rec := h.doAs(player, "POST", "/v1/tenants/bravo/rpc/hello", `{}`); rec.Code != 404 {
		t.Fatalf("player of acme on bravo: %d", rec.Code)
	}
	if rec := h.doAs(player, "GET", "/v1/tenants/acme/bans", ""); rec.Code != 403 {
		t.Fatalf("a session token on another route: %d", rec.Code)
	}
	if rec := h.doAs(player, "POST", "/v1/tenants/acme/rpc/Bad!", `{}`); rec.Code != 400 {
		t.Fatalf("bad rpc name: %d", rec.Code)
	}
	gs, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	if rec := h.doAs(gs, "POST", "/v1/tenants/acme/rpc/hello", `{}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), "api_key:") {
		t.Fatalf("game-server rpc: %d %s", rec.Code, rec.Body)
	}
	h.mustDo("DELETE", "/v1/tenants/acme/players/p1/sessions", "", 204)
	h.clock.Advance(2e9)
	if rec := h.doAs(player, "POST", "/v1/tenants/acme/rpc/hello", `{}`); rec.Code != 401 {
		t.Fatalf("revoked session: %d %s", rec.Code, rec.Body)
	}
}
