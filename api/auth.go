package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// PrincipalOperator is the Kind of a principal authenticated by an
// operator token.
const PrincipalOperator = "operator"

// Principal is an authenticated caller. Kind says how it authenticated
// ("operator" today; API keys will add more) and ID which credential it
// used: for operators the token id, never the secret.
type Principal struct {
	Kind string
	ID   string
}

// Actor is the principal as written into commands and the audit log,
// e.g. "operator:0123456789abcdef".
func (p Principal) Actor() string { return p.Kind + ":" + p.ID }

// access is what a route requires of its caller. The route table names
// one per route; serveRoute enforces it before the handler runs, so no
// handler checks credentials itself.
type access int

const (
	// public routes need no credentials (health, readiness, metrics...).
	public access = iota
	// operatorOnly routes need a principal allowed to administer the
	// cluster and every tenant.
	operatorOnly
)

// permits is the role check: whether p may call a route needing a.
// Operators may do everything. Scoped principals (per-tenant API keys with
// roles) plug in here without touching handlers.
func (a access) permits(p Principal) bool {
	switch a {
	case public:
		return true
	case operatorOnly:
		return p.Kind == PrincipalOperator
	}
	return false
}

// authenticate identifies the caller from "Authorization: Bearer <token>".
// Every failure is a 401 that says nothing about which check failed, and
// nothing about the token is logged.
func (s *Server) authenticate(r *http.Request) (Principal, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, errMissingCredentials
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, errMissingCredentials
	}
	id, secret, err := ParseOperatorToken(strings.TrimSpace(token))
	if err != nil {
		return Principal{}, errInvalidToken
	}
	sum := hashSecret(secret)
	tok, found := s.store.State().OperatorToken(id)
	want := tok.SecretSHA256
	if !found {
		want = make([]byte, len(sum)) // compare anyway, so timing does not tell
	}
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || !found {
		return Principal{}, errInvalidToken
	}
	return Principal{Kind: PrincipalOperator, ID: id}, nil
}

var (
	errMissingCredentials = &apiError{
		status:  http.StatusUnauthorized,
		code:    codeUnauthenticated,
		message: `an "Authorization: Bearer <token>" header is required`,
	}
	errInvalidToken = &apiError{
		status:  http.StatusUnauthorized,
		code:    codeUnauthenticated,
		message: "the bearer token is invalid",
	}
	errForbidden = &apiError{
		status:  http.StatusForbidden,
		code:    codePermissionDenied,
		message: "the principal may not call this route",
	}
)

// authorize runs the route's access check. On failure it has already
// written the response and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, a access) (Principal, bool) {
	if a == public {
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
	if !a.permits(p) {
		writeError(w, errForbidden)
		return Principal{}, false
	}
	return p, true
}
