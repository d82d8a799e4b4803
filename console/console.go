package console

import (
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/api"
)

// Defaults.
const (
	DefaultTTL         = 12 * time.Hour
	DefaultMaxSessions = 10000
	maxLoginBody       = 4 << 10
)

//go:embed assets
var assets embed.FS

// Config configures a Console.
type Config struct {
	// Authenticate checks a pasted credential exactly as the REST API
	// does (api.Server.Authenticate). Required.
	Authenticate func(cred string) (api.Principal, error)
	// NodeName is shown in the console's header.
	NodeName string
	// TTL is how long a session lives. Default: DefaultTTL.
	TTL time.Duration
	// MaxSessions bounds the live sessions on this node. Default:
	// DefaultMaxSessions.
	MaxSessions int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives logs (never credentials). Default: slog.Default().
	Logger *slog.Logger
}

// Console serves the console and the API reference, and resolves session
// cookies for package api. It implements api.Console. It starts nothing
// and is safe for concurrent use.
type Console struct {
	auth     func(string) (api.Principal, error)
	node     string
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
	sessions *store
	static   fs.FS
}

// New builds a Console.
func New(cfg Config) (*Console, error) {
	if cfg.Authenticate == nil {
		return nil, errors.New("console: Config.Authenticate is required")
	}
	if cfg.TTL < 0 || cfg.MaxSessions < 0 {
		return nil, errors.New("console: TTL and MaxSessions must not be negative")
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	c := &Console{
		auth:     cfg.Authenticate,
		node:     cfg.NodeName,
		ttl:      cmp.Or(cfg.TTL, DefaultTTL),
		now:      cfg.Now,
		log:      cfg.Logger,
		sessions: newStore(cmp.Or(cfg.MaxSessions, DefaultMaxSessions)),
		static:   static,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// Credential implements api.Console.
func (c *Console) Credential(r *http.Request) (string, bool, error) {
	return c.sessions.resolve(r, c.now())
}

// The Content-Security-Policy of the console's pages: scripts, styles,
// images and requests from this origin only, nothing inline, no framing.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every console and docs response has.
func securityHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP implements api.Console: /ui/ and /docs/.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/docs/") {
		c.serveDocs(w, r)
		return
	}
	securityHeaders(w, consoleCSP)
	switch r.URL.Path {
	case "/ui/login":
		c.handleLogin(w, r)
	case "/ui/logout":
		c.handleLogout(w, r)
	case "/ui/session":
		c.handleSession(w, r)
	default:
		c.serveAsset(w, r, c.static, strings.TrimPrefix(r.URL.Path, "/ui/"))
	}
}

// serveAsset serves one embedded file; "" and unknown page paths get
// index.html (the console routes by URL fragment, so that is only /ui/).
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string) {
	if name == "" {
		name = "index.html"
	}
	name = path.Clean(name)
	b, err := fs.ReadFile(fsys, name)
	if err != nil || strings.HasPrefix(name, "..") {
		writeErr(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// who is the principal as the console's pages see it.
type who struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Tenant  string `json:"tenant,omitempty"`
	Role    string `json:"role,omitempty"`
	Project string `json:"project,omitempty"`
}

// sessionView answers login and GET /ui/session.
type sessionView struct {
	LoggedIn  bool      `json:"logged_in"`
	Principal *who      `json:"principal,omitempty"`
	CSRFToken string    `json:"csrf_token,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Node      string    `json:"node"`
}

func (c *Console) view(s *session) sessionView {
	p := s.principal
	return sessionView{
		LoggedIn:  true,
		Principal: &who{Kind: p.Kind, ID: p.ID, Tenant: p.Tenant, Role: p.Role, Project: p.Project},
		CSRFToken: s.csrf, ExpiresAt: s.expires.UTC(), Node: c.node,
	}
}

// sameOrigin rejects requests a browser marks as cross-site. Browsers that
// send neither header are judged by the JSON content type alone, which a
// cross-site form cannot send without a preflight.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		return o == scheme+r.Host
	}
	return true
}

// handleLogin turns a pasted credential into a session.
func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeErr(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		return
	}
	if !sameOrigin(r) {
		writeErr(w, http.StatusForbidden, "permission_denied", "cross-origin login refused")
		return
	}
	var body struct {
		Credential string `json:"credential"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
	if err := dec.Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_json", "the body must be {\"credential\":\"...\"}")
		return
	}
	cred := strings.TrimSpace(body.Credential)
	p, err := c.auth(cred)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "unauthenticated", "the credential is invalid")
		return
	}
	id, s, err := c.sessions.create(cred, p, c.now(), c.ttl)
	if err != nil {
		c.log.Warn("console: could not create a session", "err", err)
		writeErr(w, http.StatusServiceUnavailable, "not_ready", "could not create a session; try again later")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", MaxAge: int(c.ttl.Seconds()),
		Expires: s.expires, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	c.log.Info("console: login", "principal", p.Actor())
	writeJSONBody(w, http.StatusOK, c.view(s))
}

// handleLogout ends the session and clears the cookie. It needs the CSRF
// token, like every mutating request with a session.
func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if id, ok := sessionCookie(r); ok {
		if s, err := c.sessions.get(id, c.now()); err == nil {
			if !csrfOK(s, r.Header.Get(CSRFHeader)) {
				writeErr(w, http.StatusForbidden, "permission_denied", "missing or wrong X-CSRF-Token")
				return
			}
			c.log.Info("console: logout", "principal", s.principal.Actor())
		}
		c.sessions.remove(id)
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	w.WriteHeader(http.StatusNoContent)
}

// handleSession answers who is logged in and the CSRF token, or
// {"logged_in":false}. A cross-origin page cannot read it: there is no
// CORS.
func (c *Console) handleSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if id, ok := sessionCookie(r); ok {
		if s, err := c.sessions.get(id, c.now()); err == nil {
			writeJSONBody(w, http.StatusOK, c.view(s))
			return
		}
	}
	writeJSONBody(w, http.StatusOK, sessionView{Node: c.node})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr writes the API's error shape.
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSONBody(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
