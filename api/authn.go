package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Reasons an authentication fails, as aggregated into the audit log.
const (
	failMissing   = "missing"
	failMalformed = "malformed"
	failUnknown   = "unknown"
	failSecret    = "bad_secret"
	failExpired   = "expired"
)

// zeroHash is compared against when a credential's id is unknown, so the
// time taken does not tell whether the id exists.
var zeroHash = make([]byte, 32)

// authenticate identifies the caller from the credential it presented
// (credential's answer: ok false if none). Every failure is a 401 that
// says nothing about which check failed; failures are counted for the
// audit log (by credential id and reason, never the secret), and nothing
// about the credential is logged.
func (s *Server) authenticate(cred string, ok bool) (Principal, *apiError) {
	if !ok {
		s.failures.record(authFailure{credential: "anonymous", reason: failMissing})
		return Principal{}, errMissingCredentials
	}
	switch {
	case strings.HasPrefix(cred, tokenPrefix):
		return s.authOperator(cred)
	case strings.HasPrefix(cred, apiKeyPrefix):
		return s.authAPIKey(cred)
	case strings.HasPrefix(cred, ServerKeyPrefix):
		return s.authServerKey(cred)
	case strings.Count(cred, ".") == 2:
		return s.authPlayer(cred)
	}
	s.failures.record(authFailure{credential: "anonymous", reason: failMalformed})
	return Principal{}, errInvalidToken
}

func (s *Server) authOperator(cred string) (Principal, *apiError) {
	id, secret, err := ParseOperatorToken(cred)
	if err != nil {
		s.failures.record(authFailure{credential: "anonymous", reason: failMalformed})
		return Principal{}, errInvalidToken
	}
	sum := hashSecret(secret)
	tok, found := s.state.Operators.Token(id)
	want := tok.SecretSHA256
	if !found {
		want = zeroHash
	}
	match := subtle.ConstantTimeCompare(sum[:], want) == 1
	var reason string
	switch {
	case !found && (!s.store.Ready() || s.seeding != nil && s.seeding()):
		return Principal{}, errCatchingUp
	case !found:
		reason = failUnknown
	case !match:
		reason = failSecret
	case !tok.ActiveAt(s.now()):
		reason = failExpired
	default:
		return Principal{Kind: PrincipalOperator, ID: id}, nil
	}
	// The actor name is built on failures only: every request would pay
	// for the allocation.
	s.failures.record(authFailure{credential: PrincipalOperator + ":" + id, reason: reason})
	return Principal{}, errInvalidToken
}

func (s *Server) authAPIKey(cred string) (Principal, *apiError) {
	id, secret, err := ParseAPIKey(cred)
	if err != nil {
		s.failures.record(authFailure{credential: "anonymous", reason: failMalformed})
		return Principal{}, errInvalidToken
	}
	sum := hashSecret(secret)
	key, found := s.state.Identity.APIKey(id)
	want := key.SecretSHA256
	if !found {
		want = zeroHash
	}
	match := subtle.ConstantTimeCompare(sum[:], want) == 1
	now := s.now()
	var reason string
	switch {
	case !found && !s.store.Ready():
		return Principal{}, errCatchingUp
	case !found:
		reason = failUnknown
	case !match:
		reason = failSecret
	case !key.ActiveAt(now):
		reason = failExpired
	default:
		s.touches.record(id, now)
		return Principal{Kind: PrincipalAPIKey, ID: id, Tenant: key.Tenant, Role: key.Role, Project: key.ProjectID}, nil
	}
	s.failures.record(authFailure{credential: PrincipalAPIKey + ":" + id, reason: reason, tenant: key.Tenant})
	return Principal{}, errInvalidToken
}

var errPlayerBanned = &apiError{status: http.StatusForbidden, code: codePlayerBanned, message: "the player is banned"}

// authPlayer authenticates a player's session token with the same checks
// as session verification (signature, expiry, revocation of the session
// or the player, the tenant's existence, then bans), on every request.
func (s *Server) authPlayer(cred string) (Principal, *apiError) {
	res := s.verifySession(Principal{Kind: PrincipalOperator}, cred)
	switch {
	case res.Valid:
		return Principal{Kind: PrincipalPlayer, ID: res.PlayerID, Tenant: res.TenantID, Project: res.ProjectID}, nil
	case res.Reason == reasonBanned:
		return Principal{}, errPlayerBanned
	}
	reason := failUnknown
	if res.Reason == reasonExpired {
		reason = failExpired
	}
	s.failures.record(authFailure{credential: "anonymous", reason: reason, tenant: res.TenantID})
	return Principal{}, errInvalidToken
}

// ServerKeyPrefix starts a fleet server's credential (CN_KEY), which only
// the node that started the server can check.
const ServerKeyPrefix = "cnsk_"

// ServerKeys checks fleet servers' credentials (CN_KEY). Implementations
// are safe for concurrent use and never block.
type ServerKeys interface {
	// AuthenticateServerKey returns the game-server principal of cred,
	// confined to its tenant, project and server, or false.
	AuthenticateServerKey(cred string) (Principal, bool)
}

func (s *Server) authServerKey(cred string) (Principal, *apiError) {
	if s.serverKeys != nil {
		if p, ok := s.serverKeys.AuthenticateServerKey(cred); ok {
			return p, nil
		}
	}
	s.failures.record(authFailure{credential: "anonymous", reason: failUnknown})
	return Principal{}, errInvalidToken
}
