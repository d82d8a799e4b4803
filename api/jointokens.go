package api

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// JoinTokens makes join tokens for this cluster (they embed the cluster
// name and CA fingerprint, which the API does not know). node.Node
// implements it. Safe for concurrent use.
type JoinTokens interface {
	// NewJoinToken returns a fresh token, its ID and the SHA-256 of its
	// secret (what is replicated).
	NewJoinToken(ctx context.Context) (token, id string, secretHash []byte, err error)
}

// joinTokenView is a join token as listed; the secret is never returned
// after creation.
type joinTokenView struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Token is set only in the answer to its creation.
	Token string `json:"token,omitempty"`
}

func (s *Server) handleListJoinTokens(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	out := []joinTokenView{}
	for _, t := range s.state.Cluster.JoinTokens() {
		out = append(out, joinTokenView{ID: t.ID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// createJoinTokenRequest is the body of POST /v1/cluster/join-tokens.
type createJoinTokenRequest struct {
	// TTLSeconds is the token's lifetime (0: never expires).
	TTLSeconds int64 `json:"ttl_seconds"`
}

func (s *Server) handleCreateJoinToken(w http.ResponseWriter, r *http.Request, p Principal) {
	var req createJoinTokenRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validTTL(req.TTLSeconds); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.joinTok == nil {
		s.fail(w, r, errorf(http.StatusServiceUnavailable, codeNotReady, "join tokens are not available on this node"))
		return
	}
	token, id, sum, err := s.joinTok.NewJoinToken(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateJoinToken{
		CreateJoinToken: &cassnetv1.CreateJoinToken{Id: id, SecretSha256: sum, ExpiresUnix: s.expiresUnix(req.TTLSeconds)},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	v := joinTokenView{ID: id, Token: token}
	for _, t := range s.state.Cluster.JoinTokens() {
		if t.ID == id {
			v.CreatedAt, v.ExpiresAt = t.CreatedAt, t.ExpiresAt
		}
	}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) handleRevokeJoinToken(w http.ResponseWriter, r *http.Request, p Principal) {
	id := r.PathValue("token")
	if _, err := hex.DecodeString(id); err != nil || len(id) != 16 {
		s.fail(w, r, notFound("join token %q not found", id))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokeJoinToken{
		RevokeJoinToken: &cassnetv1.RevokeJoinToken{Id: id},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}
