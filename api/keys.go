package api

import (
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// maxCredentialTTL bounds ttl_seconds of keys and operator tokens.
const maxCredentialTTL = int64(10 * 365 * 24 * 3600)

// keyView is an API key as the API shows it: never the secret or its hash.
type keyView struct {
	ID         string     `json:"id"`
	Tenant     string     `json:"tenant"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	ProjectID  string     `json:"project_id"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func viewKey(k identity.APIKey) keyView {
	return keyView{
		ID: k.ID, Tenant: k.Tenant, Name: k.Name, Role: k.Role, ProjectID: k.ProjectID,
		CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
	}
}

// createKeyRequest is the body of POST /v1/tenants/{tenant}/keys.
type createKeyRequest struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	ProjectID  string `json:"project_id"`
	TTLSeconds int64  `json:"ttl_seconds"` // 0: never expires
}

func (req *createKeyRequest) validate() error {
	if err := identity.ValidateKeyName(req.Name); err != nil {
		return err
	}
	if err := identity.ValidateRole(req.Role); err != nil {
		return err
	}
	if req.ProjectID != "" {
		if !identity.ProjectScoped(req.Role) {
			return badRequest("project_id: only %s and %s keys may be scoped to a project", identity.RoleGameServer, identity.RoleMatchmaker)
		}
		if err := consensus.ValidateName("project_id", req.ProjectID); err != nil {
			return err
		}
	}
	return validTTL(req.TTLSeconds)
}

func validTTL(ttl int64) error {
	if ttl < 0 || ttl > maxCredentialTTL {
		return badRequest("ttl_seconds: must be between 0 (never expires) and %d", maxCredentialTTL)
	}
	return nil
}

// expiresUnix turns a TTL into the absolute expiry a command carries.
func (s *Server) expiresUnix(ttl int64) int64 {
	if ttl == 0 {
		return 0
	}
	return s.now().Unix() + ttl
}

// handleCreateKey creates a key and answers with it, the only time the
// key string is ever shown.
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req createKeyRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	key, id, sum, err := NewAPIKey()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateApiKey{
		CreateApiKey: &cassnetv1.CreateAPIKey{
			Id: id, Tenant: tenant, Name: req.Name, Role: req.Role, Project: req.ProjectID,
			SecretSha256: sum, ExpiresUnix: s.expiresUnix(req.TTLSeconds),
		},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	k, ok := s.state.Identity.APIKey(id)
	if !ok {
		s.fail(w, r, notFound("api key %q no longer exists", id))
		return
	}
	setIndexHeader(w, idx)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/tenants/"+tenant+"/keys/"+id)
	writeJSON(w, http.StatusCreated, struct {
		keyView
		Key string `json:"key"`
	}{viewKey(k), key})
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	keys, err := s.state.Identity.APIKeys(r.PathValue("tenant"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewKey(k))
	}
	writeJSON(w, http.StatusOK, struct {
		Keys []keyView `json:"keys"`
	}{out})
}

// handleRevokeKey deletes a key; once the deletion has replicated (within
// milliseconds, see docs/consistency.md), no node accepts it.
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id := r.PathValue("tenant"), r.PathValue("key")
	if err := consensus.ValidateKeyID("key", id); err != nil {
		s.fail(w, r, notFound("api key %q not found in tenant %q", id, tenant))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokeApiKey{
		RevokeApiKey: &cassnetv1.RevokeAPIKey{Tenant: tenant, Id: id},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}
