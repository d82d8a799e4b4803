package console

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/api"
)

const goodCred = "cnop_0123456789abcdef.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestConsole(t testing.TB) (*Console, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	c, err := New(Config{
		Authenticate: func(cred string) (api.Principal, error) {
			if cred != goodCred {
				return api.Principal{}, api.ErrUnauthenticated
			}
			return api.Principal{Kind: api.PrincipalOperator, ID: "0123456789abcdef"}, nil
		},
		NodeName: "n1", TTL: time.Hour, MaxSessions: 3, Now: clk.now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func login(t testing.TB, c *Console, cred string, mod func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/ui/login", strings.NewReader(`{"credential":"`+cred+`"}`))
	r.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func sessionOf(t testing.TB, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, ck := range w.Result().Cookies() {
		if ck.Name == CookieName {
			return ck
		}
	}
	t.Fatalf("no session cookie; status %d body %s", w.Code, w.Body)
	return nil
}

func TestLoginSetsAStrictCookie(t *testing.T) {
	c, _ := newTestConsole(t)
	w := login(t, c, goodCred, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	ck := sessionOf(t, w)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.MaxAge != 3600 || ck.Path != "/" {
		t.Fatalf("cookie %+v", ck)
	}
	if strings.Contains(w.Body.String(), goodCred) || strings.Contains(w.Body.String(), ck.Value) {
		t.Fatal("the login answer repeats the credential or the session id")
	}
	// Under TLS the cookie is Secure.
	w = login(t, c, goodCred, func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
	if !sessionOf(t, w).Secure {
		t.Fatal("cookie not Secure under TLS")
	}
}

func TestLoginRefusals(t *testing.T) {
	c, _ := newTestConsole(t)
	cases := []struct {
		name string
		cred string
		mod  func(*http.Request)
		want int
	}{
		{"bad credential", "cnop_nope", nil, http.StatusUnauthorized},
		{"cross-site fetch", goodCred, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden},
		{"foreign origin", goodCred, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden},
		{"form post", goodCred, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, http.StatusUnsupportedMediaType},
		{"same origin", goodCred, func(r *http.Request) { r.Header.Set("Origin", "http://example.com") }, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := login(t, c, tc.cred, tc.mod)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != http.StatusOK && len(w.Result().Cookies()) != 0 {
				t.Fatal("a refused login set a cookie")
			}
		})
	}
}

// withCookie is a request carrying the session cookie.
func withCookie(method, path, id string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: id})
	return r
}

func TestCredentialAndCSRF(t *testing.T) {
	c, clk := newTestConsole(t)
	ck := sessionOf(t, login(t, c, goodCred, nil))
	s, err := c.sessions.get(ck.Value, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	// A GET needs no CSRF token.
	if cred, ok, err := c.Credential(withCookie("GET", "/v1/tenants", ck.Value)); cred != goodCred || !ok || err != nil {
		t.Fatalf("GET: %q %v %v", cred, ok, err)
	}
	// A mutation needs the right one.
	// One character changed: the last one differs from the real token's
	// (a fixed "A" would equal it one time in 16).
	last := "A"
	if strings.HasSuffix(s.csrf, "A") {
		last = "E"
	}
	for _, tok := range []string{"", "x", s.csrf[:len(s.csrf)-1] + last, strings.ToUpper(s.csrf)} {
		r := withCookie("POST", "/v1/tenants", ck.Value)
		r.Header.Set(CSRFHeader, tok)
		if _, _, err := c.Credential(r); !errors.Is(err, api.ErrCSRF) {
			t.Fatalf("POST with token %q: err %v", tok, err)
		}
	}
	r := withCookie("DELETE", "/v1/tenants/x", ck.Value)
	r.Header.Set(CSRFHeader, s.csrf)
	if cred, ok, err := c.Credential(r); cred != goodCred || !ok || err != nil {
		t.Fatalf("DELETE with the token: %q %v %v", cred, ok, err)
	}
	// No cookie, an unknown or malformed one: no session, no error.
	for _, id := range []string{"", "short", strings.Repeat("A", tokenLen), ck.Value + "x"} {
		if _, ok, err := c.Credential(withCookie("POST", "/v1/tenants", id)); ok || err != nil {
			t.Fatalf("cookie %q: ok %v err %v", id, ok, err)
		}
	}
	// The session expires.
	clk.t = clk.t.Add(time.Hour)
	if _, ok, _ := c.Credential(withCookie("GET", "/v1/tenants", ck.Value)); ok {
		t.Fatal("an expired session still resolves")
	}
}

func TestLogout(t *testing.T) {
	c, clk := newTestConsole(t)
	ck := sessionOf(t, login(t, c, goodCred, nil))
	s, _ := c.sessions.get(ck.Value, clk.now())
	// Without the CSRF token, logout is refused and the session lives.
	w := httptest.NewRecorder()
	c.ServeHTTP(w, withCookie("POST", "/ui/logout", ck.Value))
	if w.Code != http.StatusForbidden {
		t.Fatalf("logout without token: %d", w.Code)
	}
	r := withCookie("POST", "/ui/logout", ck.Value)
	r.Header.Set(CSRFHeader, s.csrf)
	w = httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent || sessionOf(t, w).MaxAge >= 0 {
		t.Fatalf("logout: %d, cookie %+v", w.Code, w.Result().Cookies())
	}
	if _, ok, _ := c.Credential(withCookie("GET", "/v1/tenants", ck.Value)); ok {
		t.Fatal("the session resolves after logout")
	}
	w = httptest.NewRecorder()
	c.ServeHTTP(w, withCookie("GET", "/ui/session", ck.Value))
	if !strings.Contains(w.Body.String(), `"logged_in":false`) {
		t.Fatalf("session after logout: %s", w.Body)
	}
}

func TestSessionStoreIsBounded(t *testing.T) {
	c, clk := newTestConsole(t)
	for range 3 {
		sessionOf(t, login(t, c, goodCred, nil))
	}
	if w := login(t, c, goodCred, nil); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("a 4th session with MaxSessions 3: %d", w.Code)
	}
	clk.t = clk.t.Add(2 * time.Hour) // the three expire and are swept
	sessionOf(t, login(t, c, goodCred, nil))
	if n := c.sessions.len(); n != 1 {
		t.Fatalf("%d sessions stored, want 1", n)
	}
}

func TestSecurityHeaders(t *testing.T) {
	c, _ := newTestConsole(t)
	for _, path := range []string{"/ui/", "/ui/js/app.js", "/ui/app.css", "/ui/session", "/docs/", "/docs/swagger-ui-bundle.js", "/ui/nope.js"} {
		w := httptest.NewRecorder()
		c.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.HasPrefix(path, "/ui/") && strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: the console allows inline styles or scripts", path)
		}
	}
}

// TestAssetsHaveNoInlineScript: the CSP would block inline script, so
// none may exist; and nothing may assign markup.
func TestAssetsHaveNoInlineScript(t *testing.T) {
	total := 0
	err := walkAssets(func(name string, b []byte) {
		total += len(b)
		s := string(b)
		if strings.HasSuffix(name, ".html") && strings.Contains(strings.ReplaceAll(s, `<script type="module" src=`, ""), "<script>") {
			t.Errorf("%s has an inline script", name)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", " style=\""} {
			if strings.Contains(s, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > 200<<10 {
		t.Errorf("the console's assets are %d bytes, over the 200 KB budget", total)
	}
	t.Logf("console assets: %d bytes", total)
}

func walkAssets(fn func(name string, b []byte)) error {
	return fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		fn(p, b)
		return nil
	})
}
