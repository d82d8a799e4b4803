package consensus

import (
	"cmp"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// MaxJoinTokens bounds the replicated join tokens.
const MaxJoinTokens = 100

// JoinToken is the replicated record of a join token. Only the SHA-256 of
// its secret is stored; the join proof is keyed by that hash, so any node
// holding the CA key can check a join without the secret.
type JoinToken struct {
	ID           string     `json:"id"`
	SecretSHA256 []byte     `json:"secret_sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// JoinTokenID is the ID of the join token whose secret hashes to sum.
func JoinTokenID(sum []byte) string { return hex.EncodeToString(sum[:8]) }

// JoinTokens returns every join token, sorted by CreatedAt then ID.
func (s *State) JoinTokens() []JoinToken {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.SortedFunc(maps.Values(s.joinTokens), func(a, b JoinToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

// JoinSecretHashes returns the secret hashes of the join tokens valid at
// t (not expired; revoked tokens are deleted).
func (s *State) JoinSecretHashes(at time.Time) [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out [][]byte
	for _, t := range s.joinTokens {
		if t.ExpiresAt == nil || at.Before(*t.ExpiresAt) {
			out = append(out, slices.Clone(t.SecretSHA256))
		}
	}
	return out
}

func validateCreateJoinToken(op *cassnetv1.CreateJoinToken) error {
	if len(op.GetSecretSha256()) != secretHashLen {
		return newError(ErrInvalid, "secret_sha256: must be %d bytes", secretHashLen)
	}
	if op.GetId() != JoinTokenID(op.GetSecretSha256()) {
		return newError(ErrInvalid, "id: must be the first 8 bytes of secret_sha256, hex")
	}
	if op.GetExpiresUnix() < 0 {
		return newError(ErrInvalid, "expires_unix: must not be negative")
	}
	return nil
}

func validateRevokeJoinToken(op *cassnetv1.RevokeJoinToken) error {
	if id := op.GetId(); len(id) != 16 {
		return newError(ErrInvalid, "id: must be 16 hex characters")
	}
	if _, err := hex.DecodeString(op.GetId()); err != nil {
		return newError(ErrInvalid, "id: must be 16 hex characters")
	}
	return nil
}

// createJoinToken admits a token. The caller holds the write lock.
func (s *State) createJoinToken(op *cassnetv1.CreateJoinToken, at time.Time) error {
	id := op.GetId()
	if _, ok := s.joinTokens[id]; ok {
		return newError(ErrConflict, "join token %q already exists", id)
	}
	if len(s.joinTokens) >= MaxJoinTokens {
		return newError(ErrConflict, "at most %d join tokens may exist: revoke some", MaxJoinTokens)
	}
	exp, err := expiry(op.GetExpiresUnix(), at)
	if err != nil {
		return err
	}
	s.joinTokens[id] = JoinToken{ID: id, SecretSHA256: slices.Clone(op.GetSecretSha256()), CreatedAt: at, ExpiresAt: exp}
	return nil
}

// revokeJoinToken deletes a token. The caller holds the write lock.
func (s *State) revokeJoinToken(op *cassnetv1.RevokeJoinToken) error {
	if _, ok := s.joinTokens[op.GetId()]; !ok {
		return newError(ErrNotFound, "join token %q does not exist", op.GetId())
	}
	delete(s.joinTokens, op.GetId())
	return nil
}

// restoreJoinTokens checks and installs a snapshot's join tokens.
func restoreJoinTokens(fresh *State, toks []JoinToken) error {
	for _, t := range toks {
		if _, dup := fresh.joinTokens[t.ID]; dup || len(t.SecretSHA256) != secretHashLen {
			return newError(ErrInvalid, "join token %q: duplicate or malformed", t.ID)
		}
		t.CreatedAt = t.CreatedAt.UTC()
		t.ExpiresAt = utcPtr(t.ExpiresAt)
		fresh.joinTokens[t.ID] = t
	}
	return nil
}

// hashJoinTokens adds the (sorted) join tokens to the state hash.
func (e *hashEncoder) joinTokens(toks []JoinToken) {
	e.section("join_tokens", len(toks))
	for _, t := range toks {
		e.str(t.ID)
		e.bytes(t.SecretSHA256)
		e.time(t.CreatedAt)
		e.optTime(t.ExpiresAt)
	}
}
