package api

import (
	"errors"
	"net/http"
	"strings"
)

// This file wires the embedded operator console (package console) into
// the API. The console is a client of the REST API with no powers of its
// own: a browser session cookie stands for exactly one credential (the
// operator token or API key pasted at login), and each request made with
// the cookie is authenticated and authorised as if that credential had
// been sent in the Authorization header, by the same layer.

// ErrCSRF is returned by Console.Credential for a mutating request that
// carries a session cookie but not the session's CSRF token.
var ErrCSRF = errors.New("the request carries a session cookie but not its CSRF token")

// Console is the embedded operator console, as the API sees it. Both
// methods are called concurrently from request goroutines.
type Console interface {
	// ServeHTTP serves the console's pages and assets, its login,
	// logout and session endpoints under /ui/, and the API reference
	// under /docs/. These are browser pages, not API routes: they are
	// not in openapi.json.
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	// Credential resolves the session cookie of r into the credential it
	// stands for. ok is false when r carries no live session (no cookie,
	// an unknown or expired one): r then goes on without a credential.
	// For a mutating method it also checks the CSRF token in constant
	// time, and returns an error wrapping ErrCSRF when it is wrong.
	Credential(r *http.Request) (cred string, ok bool, err error)
}

// consoleRoutes are the console's entries in the route table, registered
// only when Config.Console is set. They run through the same chain as
// every route (metrics, panic recovery, rate limits); they are public
// because the console authenticates its own login, with Authenticate.
var consoleRoutes = []route{
	{"GET", "/{$}", public, (*Server).handleRoot},
	{"GET", "/ui/", public, (*Server).handleConsole},
	{"POST", "/ui/login", public, (*Server).handleConsole},
	{"POST", "/ui/logout", public, (*Server).handleConsole},
	{"GET", "/docs/", public, (*Server).handleConsole},
}

// handleConsole hands a browser route to the console.
func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.console.ServeHTTP(w, r)
}

// handleRoot sends a browser at / to the console.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request, _ Principal) {
	http.Redirect(w, r, "/ui/", http.StatusFound)
}

// isConsolePath reports whether path belongs to the console itself, which
// reads its own cookie.
func isConsolePath(path string) bool {
	return strings.HasPrefix(path, "/ui/") || strings.HasPrefix(path, "/docs/")
}

// sessionBridge turns a console session cookie into the credential it
// stands for, before the route table sees the request. A request that
// already presents a credential header is left alone, so the cookie can
// never widen what a header grants. A mutating request with a cookie and
// a wrong CSRF token is refused with 403 here.
func (s *Server) sessionBridge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerValue(r.Header, headerAuthorization) != "" || headerValue(r.Header, headerAPIKey) != "" || isConsolePath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		cred, ok, err := s.console.Credential(r)
		if err != nil {
			writeError(w, errorf(http.StatusForbidden, codePermissionDenied, "missing or wrong X-CSRF-Token"))
			return
		}
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.Header.Set("Authorization", "Bearer "+cred)
		next.ServeHTTP(w, r2)
	})
}
