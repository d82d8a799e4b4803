package api

import (
	"net/http"

	"github.com/cassandranet/cassnet/pki"
)

// certRoute reports whether a route accepts a client certificate as the
// credential: only the streaming protocol, a WebSocket that gorilla's
// Origin check already confines to same-origin pages. A certificate is an
// ambient credential (a browser that holds one sends it to any page's
// requests), so the REST routes, which have no such check, keep to
// bearer credentials.
func (rt *route) certRoute() bool { return rt.path == streamPath }

// authClientCert identifies the caller from a client certificate the TLS
// handshake verified against the cluster CA (pki.HTTPSConfig): it must
// bind an API key (pki.APIKeyOf), and grants that key's principal while
// the key is active, checked now exactly as for "X-API-Key". ok is false
// when the request carries no such certificate (then the bearer
// credential, or its absence, decides).
func (s *Server) authClientCert(r *http.Request) (p Principal, ae *apiError, ok bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return Principal{}, nil, false
	}
	id, err := pki.APIKeyOf(r.TLS.PeerCertificates[0])
	if err != nil {
		return Principal{}, nil, false // a node's certificate, or another kind
	}
	who := PrincipalAPIKey + ":" + id
	key, found := s.state.Identity.APIKey(id)
	now := s.now()
	switch {
	case !found:
		s.failures.record(authFailure{credential: who, reason: failUnknown})
	case !key.ActiveAt(now):
		s.failures.record(authFailure{credential: who, reason: failExpired, tenant: key.Tenant})
	default:
		s.touches.record(id, now)
		return Principal{Kind: PrincipalAPIKey, ID: id, Tenant: key.Tenant, Role: key.Role, Project: key.ProjectID}, nil, true
	}
	return Principal{}, errInvalidToken, true
}
