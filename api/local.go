package api

import (
	"errors"
	"strings"
	"time"
)

// This file is what the local game-server API (package gameserver) borrows
// from the REST API, so that both authenticate, isolate tenants and verify
// sessions with the same code: there is one authorisation layer.

// ErrUnauthenticated is returned by Authenticate for a missing, malformed,
// unknown, wrong or expired credential. Which check failed is not said.
var ErrUnauthenticated = errors.New("the credential is missing or invalid")

// ParseCredential extracts the presented credential from the values of an
// "Authorization" header ("Bearer <token-or-key>", tried first) and an
// "X-API-Key" header, exactly as REST requests are read.
func ParseCredential(authorization, apiKey string) (string, bool) {
	if authorization != "" {
		scheme, token, ok := strings.Cut(authorization, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		token = strings.TrimSpace(token)
		return token, token != ""
	}
	if k := strings.TrimSpace(apiKey); k != "" {
		return k, true
	}
	return "", false
}

// Authenticate identifies the holder of cred (an operator token or an API
// key) with the same checks, failure counting and key-use recording as a
// REST request. Errors wrap ErrUnauthenticated.
func (s *Server) Authenticate(cred string) (Principal, error) {
	var p Principal
	var ae *apiError
	switch {
	case cred == "":
		s.failures.record(authFailure{credential: "anonymous", reason: failMissing})
		return Principal{}, ErrUnauthenticated
	case strings.HasPrefix(cred, tokenPrefix):
		p, ae = s.authOperator(cred)
	case strings.HasPrefix(cred, apiKeyPrefix):
		p, ae = s.authAPIKey(cred)
	case strings.HasPrefix(cred, ServerKeyPrefix):
		p, ae = s.authServerKey(cred)
	default:
		s.failures.record(authFailure{credential: "anonymous", reason: failMalformed})
		return Principal{}, ErrUnauthenticated
	}
	if ae != nil {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// CanSee is tenant isolation (the rule every REST route goes through):
// whether p may see tenant's project ("" for tenant-wide things).
func (p Principal) CanSee(tenant, project string) bool { return p.canSee(tenant, project) }

// GameServer reports whether p may act as a game server: an API key of
// role game-server or tenant-admin, the roles of the session routes.
func (p Principal) GameServer() bool {
	return p.Kind == PrincipalAPIKey && tenantSessions.permits(p)
}

// VerifySession verifies a player's session token for p, with exactly the
// checks and answer of POST /v1/sessions/verify, and counts it in the
// same metric.
func (s *Server) VerifySession(p Principal, token string) VerifyResult {
	res := s.verifySession(p, token)
	s.metrics.verifyBy[res.Reason].Inc()
	return res
}

// CheckSession is VerifySession without counting it: for re-checking the
// sessions of players already connected.
func (s *Server) CheckSession(p Principal, token string) VerifyResult {
	return s.verifySession(p, token)
}

// Now is the server's clock, which decides whether bans and sessions are
// in force.
func (s *Server) Now() time.Time { return s.now() }
