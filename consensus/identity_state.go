package consensus

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// Read accessors for identity and access. Like every State accessor they
// return copies, take the read lock only, and never allocate on the
// lookups the authentication path makes per request beyond the copy.

// APIKey returns the API key with the given ID, whatever its tenant. The
// caller checks the secret, the expiry and the tenant.
func (s *State) APIKey(id string) (APIKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tenant, ok := s.keyTenant[id]
	if !ok {
		return APIKey{}, false
	}
	return cloneKey(s.tenants[tenant].keys[id]), true
}

// cloneKey returns a copy of k that shares no memory with the state.
func cloneKey(k APIKey) APIKey {
	k.SecretSHA256 = slices.Clone(k.SecretSHA256)
	k.ExpiresAt, k.LastUsedAt = cloneTime(k.ExpiresAt), cloneTime(k.LastUsedAt)
	return k
}

// cloneSigning returns a copy of k that shares no memory with the state.
func cloneSigning(k SigningKey) SigningKey {
	k.PrivateKey = slices.Clone(k.PrivateKey)
	k.RetiredAt = cloneTime(k.RetiredAt)
	return k
}

// APIKeys returns the tenant's keys sorted by CreatedAt then ID, or
// ErrNotFound if the tenant does not exist. Expired keys not yet pruned
// are included.
func (s *State) APIKeys(tenant string) ([]APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return nil, newError(ErrNotFound, "tenant %q", tenant)
	}
	out := slices.SortedFunc(maps.Values(t.keys), compareKeys)
	for i := range out {
		out[i] = cloneKey(out[i])
	}
	return out, nil
}

func compareKeys(a, b APIKey) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// OperatorTokens returns every operator token, sorted by CreatedAt then ID.
func (s *State) OperatorTokens() []OperatorToken {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.SortedFunc(maps.Values(s.tokens), func(a, b OperatorToken) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for i := range out {
		out[i].SecretSHA256 = slices.Clone(out[i].SecretSHA256)
		out[i].ExpiresAt = cloneTime(out[i].ExpiresAt)
	}
	return out
}

// SigningKey returns the signing key with the given kid, active or retired
// (until it is pruned).
func (s *State) SigningKey(kid string) (SigningKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.signing[kid]
	return cloneSigning(k), ok
}

// ActiveSigningKey returns the key that signs new sessions, if one exists.
func (s *State) ActiveSigningKey() (SigningKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.activeSigningKey()
	return cloneSigning(k), ok
}

// SigningKeys returns every key that still verifies, active and retired,
// sorted by CreatedAt then kid.
func (s *State) SigningKeys() []SigningKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.SortedFunc(maps.Values(s.signing), compareSigning)
	for i := range out {
		out[i] = cloneSigning(out[i])
	}
	return out
}

// SessionRevoked reports whether a session is revoked: its ID was revoked,
// or its player's sessions were revoked, tenant-wide or in the session's
// project, at or after the second it was issued. It costs three map
// lookups and does not allocate.
func (s *State) SessionRevoked(tenant, sessionID, playerID, projectID string, issuedAt time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return false
	}
	if _, ok := t.sessions[sessionID]; ok {
		return true
	}
	iat := issuedAt.Unix()
	if r, ok := t.players[playerScope{player: playerID}]; ok && iat <= r.RevokedAt.Unix() {
		return true
	}
	if projectID != "" {
		if r, ok := t.players[playerScope{player: playerID, project: projectID}]; ok && iat <= r.RevokedAt.Unix() {
			return true
		}
	}
	return false
}

// SessionRevocations returns the tenant's unpruned session revocations,
// sorted by session ID. It is for tests and diagnostics.
func (s *State) SessionRevocations(tenant string) []SessionRevocation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return nil
	}
	return slices.SortedFunc(maps.Values(t.sessions), func(a, b SessionRevocation) int {
		return cmp.Compare(a.SessionID, b.SessionID)
	})
}

// PlayerRevocations returns the tenant's unpruned player revocations,
// sorted by player then project.
func (s *State) PlayerRevocations(tenant string) []PlayerRevocation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[tenant]
	if !ok {
		return nil
	}
	return slices.SortedFunc(maps.Values(t.players), comparePlayerRevocations)
}

func comparePlayerRevocations(a, b PlayerRevocation) int {
	return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.PlayerID, b.PlayerID), cmp.Compare(a.ProjectID, b.ProjectID))
}

func compareSigning(a, b SigningKey) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.KID, b.KID))
}
