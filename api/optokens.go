package api

import (
	"net/http"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/operators"
)

// operatorTokenView is an operator token as the API shows it: never the
// secret or its hash.
type operatorTokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func viewOperatorToken(t operators.Token) operatorTokenView {
	return operatorTokenView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// createOperatorTokenRequest is the body of POST /v1/auth/operator-tokens.
type createOperatorTokenRequest struct {
	Name       string `json:"name"`
	TTLSeconds int64  `json:"ttl_seconds"` // 0: never expires
}

func (s *Server) handleCreateOperatorToken(w http.ResponseWriter, r *http.Request, p Principal) {
	var req createOperatorTokenRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := identity.ValidateKeyName(req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validTTL(req.TTLSeconds); err != nil {
		s.fail(w, r, err)
		return
	}
	token, id, sum, err := NewOperatorToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateOperatorToken{
		CreateOperatorToken: &cassnetv1.CreateOperatorToken{
			Id: id, Name: req.Name, SecretSha256: sum, ExpiresUnix: s.expiresUnix(req.TTLSeconds),
		},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tok, ok := s.state.Operators.Token(id)
	if !ok {
		s.fail(w, r, notFound("operator token %q no longer exists", id))
		return
	}
	setIndexHeader(w, idx)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		operatorTokenView
		Token string `json:"token"`
	}{viewOperatorToken(tok), token})
}

func (s *Server) handleListOperatorTokens(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	toks := s.state.Operators.Tokens()
	out := make([]operatorTokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, viewOperatorToken(t))
	}
	writeJSON(w, http.StatusOK, struct {
		Tokens []operatorTokenView `json:"tokens"`
	}{out})
}

// handleRevokeOperatorToken deletes an operator token. The last one that
// still authenticates cannot be revoked (409), so the cluster always has
// an operator.
func (s *Server) handleRevokeOperatorToken(w http.ResponseWriter, r *http.Request, p Principal) {
	id := r.PathValue("token")
	if err := consensus.ValidateKeyID("token", id); err != nil {
		s.fail(w, r, notFound("operator token %q not found", id))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokeOperatorToken{
		RevokeOperatorToken: &cassnetv1.RevokeOperatorToken{Id: id},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}
