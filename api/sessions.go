package api

import (
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/session"
	"github.com/cassandranet/cassnet/state/identity"
)

// DefaultSessionTTL is a session's lifetime when the request names none.
const DefaultSessionTTL = time.Hour

// createSessionRequest is the body of POST /v1/tenants/{tenant}/sessions.
type createSessionRequest struct {
	PlayerID   string `json:"player_id"`
	ProjectID  string `json:"project_id,omitempty"`
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
}

// sessionResponse answers a session creation.
type sessionResponse struct {
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	PlayerID  string    `json:"player_id"`
	TenantID  string    `json:"tenant_id"`
	ProjectID string    `json:"project_id"`
}

// handleCreateSession signs a session token for a player. It is not a
// Raft write: the node checks the tenant, project and bans in its local
// replica and signs with the replicated key, so issuing sessions scales
// with the number of nodes. A banned player gets 403 player_banned.
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req createSessionRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// The hook sees the decoded request; everything below validates what
	// it answers, amended or not.
	caller := p.hookCaller(tenant)
	hookReq, err := runBefore(r.Context(), s, hooks.BeforeSessionCreate, caller, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := consensus.ValidatePlayerID(req.PlayerID); err != nil {
		s.fail(w, r, err)
		return
	}
	project, err := p.scopeProject(req.ProjectID)
	if err == nil && project != "" {
		err = consensus.ValidateName("project_id", project)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	maxTTL := s.state.Settings.Get().MaxSessionTTL()
	ttl := min(DefaultSessionTTL, maxTTL)
	if req.TTLSeconds != nil {
		if *req.TTLSeconds < 1 || *req.TTLSeconds > int64(maxTTL/time.Second) {
			s.fail(w, r, badRequest("ttl_seconds: must be between 1 and %d", int64(maxTTL/time.Second)))
			return
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	if _, ok := s.state.Tenancy.Project(tenant, project); project != "" && !ok {
		s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
		return
	}
	now := s.now()
	if _, banned := s.state.Bans.ActiveBan(tenant, req.PlayerID, project, now); banned {
		s.fail(w, r, errorf(http.StatusForbidden, codePlayerBanned, "player %q is banned", req.PlayerID))
		return
	}
	key, err := s.signingKey(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sid, err := session.NewSessionID()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sess := session.Session{
		ID: sid, PlayerID: req.PlayerID, Tenant: tenant, Project: project,
		IssuedAt: now.Truncate(time.Second), ExpiresAt: now.Add(ttl).Truncate(time.Second),
	}
	token, err := session.Sign(key, sess)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.metrics.sessions.Inc()
	resp := sessionResponse{
		SessionID: sid, ExpiresAt: sess.ExpiresAt.UTC(),
		PlayerID: sess.PlayerID, TenantID: tenant, ProjectID: project,
	}
	s.runAfter(r.Context(), hooks.AfterSessionCreate, caller, hookReq, resp) // without the token
	resp.Token = token
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, resp)
}

// handleRevokeSession revokes one session by ID. The revocation is
// replicated and forgotten once the token would have expired anyway.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, sid := r.PathValue("tenant"), r.PathValue("session")
	if err := identity.ValidateSessionID("session", sid); err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokeSession{
		RevokeSession: &cassnetv1.RevokeSession{Tenant: tenant, SessionId: sid},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}

// handleRevokePlayerSessions revokes every session of a player issued up
// to now, tenant-wide or (with ?project_id) in one project.
func (s *Server) handleRevokePlayerSessions(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, player := r.PathValue("tenant"), r.PathValue("player")
	if err := consensus.ValidatePlayerID(player); err != nil {
		s.fail(w, r, err)
		return
	}
	project, _ := queryValue(r.URL.RawQuery, "project_id")
	if project != "" {
		if err := consensus.ValidateName("project_id", project); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokePlayerSessions{
		RevokePlayerSessions: &cassnetv1.RevokePlayerSessions{Tenant: tenant, PlayerId: player, Project: project},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}
