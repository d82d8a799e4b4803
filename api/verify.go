package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"

	"github.com/cassandranet/cassnet/session"
)

// Verification reasons, as answered by POST /v1/sessions/verify.
const (
	reasonOK      = "ok"
	reasonExpired = "expired"
	reasonRevoked = "revoked"
	reasonBanned  = "banned"
	reasonInvalid = "invalid"
)

var verifyReasons = []string{reasonOK, reasonExpired, reasonRevoked, reasonBanned, reasonInvalid}

// verifyRequest is the body of POST /v1/sessions/verify.
type verifyRequest struct {
	Token string `json:"token"`
}

// VerifyResult is the answer of a session verification, over REST or the
// local gRPC API. For an invalid token every claim is empty:
// nothing a forged token says is repeated back.
type VerifyResult struct {
	Valid     bool       `json:"valid"`
	Reason    string     `json:"reason"`
	PlayerID  string     `json:"player_id"`
	TenantID  string     `json:"tenant_id"`
	ProjectID string     `json:"project_id"`
	SessionID string     `json:"session_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// handleVerifySession answers whether a session token is good, from this
// node's replica alone: no leader hop, no Raft write. Malformed bodies are
// 400s; every token, however broken, is a 200 with a reason.
func (s *Server) handleVerifySession(w http.ResponseWriter, r *http.Request, p Principal) {
	token, err := decodeVerify(w, r, s.maxBody)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if token == "" {
		s.fail(w, r, badRequest("token: is required"))
		return
	}
	// A stale read: no hop. The headers say how fresh the answer is.
	meta, err := s.store.Read(r.Context(), consensus.Stale)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setReadHeaders(w, meta)
	res := s.verifySession(p, token)
	s.metrics.verifyBy[res.Reason].Inc()
	writeVerifyResult(w, res)
}

// verifySession is the whole verification, in order: the token itself
// (algorithm, kid, signature, issuer, audience, claims: invalid), whether
// p may see its tenant and project (if not: invalid, so nothing leaks),
// expiry, revocation (the session, or its player tenant-wide or in its
// project), then bans (tenant-wide, or in the session's project, at this
// node's time).
func (s *Server) verifySession(p Principal, token string) VerifyResult {
	sess, err := s.verifier.Verify(token)
	if err != nil && !errors.Is(err, session.ErrExpired) {
		return VerifyResult{Reason: reasonInvalid}
	}
	if !p.canSee(sess.Tenant, sess.Project) {
		return VerifyResult{Reason: reasonInvalid}
	}
	exp := sess.ExpiresAt
	res := VerifyResult{
		PlayerID: sess.PlayerID, TenantID: sess.Tenant, ProjectID: sess.Project,
		SessionID: sess.ID, ExpiresAt: &exp,
	}
	if _, ok := s.state.Tenancy.Tenant(sess.Tenant); !ok {
		return VerifyResult{Reason: reasonInvalid} // the tenant was deleted
	}
	switch {
	case err != nil:
		res.Reason = reasonExpired
	case s.state.Identity.SessionRevoked(sess.Tenant, sess.ID, sess.PlayerID, sess.Project, sess.IssuedAt):
		res.Reason = reasonRevoked
	default:
		if _, banned := s.state.Bans.ActiveBan(sess.Tenant, sess.PlayerID, sess.Project, s.now()); banned {
			res.Reason = reasonBanned
		} else {
			res.Valid, res.Reason = true, reasonOK
		}
	}
	return res
}
