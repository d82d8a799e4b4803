package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeConsole maps the cookie "s=<cred>" to cred, and refuses mutations
// whose X-CSRF-Token is not "ok".
type fakeConsole struct{ served []string }

func (c *fakeConsole) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.served = append(c.served, r.Method+" "+r.URL.Path)
	w.WriteHeader(http.StatusTeapot)
}

func (c *fakeConsole) Credential(r *http.Request) (string, bool, error) {
	ck, err := r.Cookie("s")
	if err != nil {
		return "", false, nil
	}
	if r.Method != http.MethodGet && r.Header.Get("X-CSRF-Token") != "ok" {
		return "", false, ErrCSRF
	}
	return ck.Value, true, nil
}

// TestSessionBridge: a console cookie stands for its credential and
// nothing more; a header credential wins over it; a mutation without the
// CSRF token is refused before any route runs.
func TestSessionBridge(t *testing.T) {
	con := &fakeConsole{}
	h := newHarness(t, func(c *Config) { c.Console = con })
	do := func(method, path, cookie, csrf, authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(`{"name":"studio"}`))
		r.Header.Set("Content-Type", "application/json")
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "s", Value: cookie})
		}
		if csrf != "" {
			r.Header.Set("X-CSRF-Token", csrf)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		return w
	}
	if w := do("GET", "/v1/tenants", h.token, "", ""); w.Code != http.StatusOK {
		t.Fatalf("GET with the session cookie: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/v1/tenants", h.token, "", ""); w.Code != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %d %s", w.Code, w.Body)
	}
	if w := do("POST", "/v1/tenants", h.token, "ok", ""); w.Code != http.StatusCreated {
		t.Fatalf("POST with CSRF: %d %s", w.Code, w.Body)
	}
	// A header credential is used as is: the cookie cannot widen it.
	if w := do("GET", "/v1/tenants", h.token, "", "Bearer cnk_nope"); w.Code != http.StatusUnauthorized {
		t.Fatalf("bad header with a good cookie: %d", w.Code)
	}
	// A cookie that maps to nothing valid is a plain 401.
	if w := do("GET", "/v1/tenants", "cnop_nope", "", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("bad cookie: %d", w.Code)
	}
	// The console's own paths go to the console, cookie untouched.
	for _, p := range []string{"GET /ui/", "GET /ui/js/app.js", "POST /ui/login", "POST /ui/logout", "GET /docs/"} {
		m, path, _ := strings.Cut(p, " ")
		if w := do(m, path, "", "", ""); w.Code != http.StatusTeapot {
			t.Errorf("%s: %d, not served by the console", p, w.Code)
		}
	}
	if w := do("GET", "/", "", "", ""); w.Code != http.StatusFound || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := do("GET", "/nothing", "", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d", w.Code)
	}
}

// TestNoConsoleNoBrowserRoutes: without a console, / and /ui/ stay JSON
// 404s and cookies mean nothing.
func TestNoConsoleNoBrowserRoutes(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/", "/ui/", "/docs/"} {
		if rec := h.doWith("GET", p, "", ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s without a console: %d", p, rec.Code)
		}
	}
}
