package consensus

import (
	"fmt"
	"slices"
	"strings"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// The operations of identity and access: API keys, operator token
// revocation, signing keys, session revocations and aggregated
// authentication failures. As everywhere in apply, each checks everything
// before it changes anything.

// expiry turns an optional Unix-seconds expiry into a time, and rejects one
// that is not after at: a credential born expired is a caller's mistake.
func expiry(unix int64, at time.Time) (*time.Time, error) {
	if unix == 0 {
		return nil, nil
	}
	t := time.Unix(unix, 0).UTC()
	if !t.After(at) {
		return nil, newError(ErrInvalid, "expires_unix: must be in the future")
	}
	return &t, nil
}

func (s *State) setSettings(op *cassnetv1.SetSettings) {
	if r := op.GetAuditRetention(); r != 0 {
		s.settings.AuditRetention = r
	}
	if ttl := op.GetMaxSessionTtlSeconds(); ttl != 0 {
		s.settings.MaxSessionTTLSeconds = ttl
		s.nextPrune = time.Time{} // retired keys' prune times moved
	}
}

// settingsTarget names the settings a SetSettings changes, for the audit.
func settingsTarget(op *cassnetv1.SetSettings) string {
	var names []string
	if op.GetAuditRetention() != 0 {
		names = append(names, "audit_retention")
	}
	if op.GetMaxSessionTtlSeconds() != 0 {
		names = append(names, "max_session_ttl_seconds")
	}
	return strings.Join(names, ",")
}

// revokeOperatorToken deletes a token. The last token that still
// authenticates cannot be revoked: that would lock every operator out.
func (s *State) revokeOperatorToken(op *cassnetv1.RevokeOperatorToken, at time.Time) error {
	id := op.GetId()
	if _, ok := s.tokens[id]; !ok {
		return newError(ErrNotFound, "operator token %q", id)
	}
	others := 0
	for oid, tok := range s.tokens {
		if oid != id && tok.ActiveAt(at) {
			others++
		}
	}
	if others == 0 {
		return newError(ErrConflict, "the last operator token cannot be revoked; create another first")
	}
	delete(s.tokens, id)
	return nil
}

func (s *State) createAPIKey(op *cassnetv1.CreateAPIKey, actor string, at time.Time) error {
	t, err := s.tenantProject(op.GetTenant(), op.GetProject())
	if err != nil {
		return err
	}
	if _, dup := s.keyTenant[op.GetId()]; dup {
		return newError(ErrConflict, "api key %q already exists", op.GetId())
	}
	if len(t.keys) >= MaxKeysPerTenant {
		return newError(ErrConflict, "tenant %q has the maximum of %d api keys", op.GetTenant(), MaxKeysPerTenant)
	}
	exp, err := expiry(op.GetExpiresUnix(), at)
	if err != nil {
		return err
	}
	t.keys[op.GetId()] = APIKey{
		ID: op.GetId(), Tenant: op.GetTenant(), Name: op.GetName(),
		Role: op.GetRole(), ProjectID: op.GetProject(),
		SecretSHA256: slices.Clone(op.GetSecretSha256()),
		CreatedAt:    at, CreatedBy: actor, ExpiresAt: exp,
	}
	s.keyTenant[op.GetId()] = op.GetTenant()
	s.notePrune(exp)
	return nil
}

// revokeAPIKey deletes a key; the audit log keeps its history.
func (s *State) revokeAPIKey(op *cassnetv1.RevokeAPIKey) error {
	t, ok := s.tenants[op.GetTenant()]
	if !ok {
		return newError(ErrNotFound, "api key %q in tenant %q", op.GetId(), op.GetTenant())
	}
	if _, ok := t.keys[op.GetId()]; !ok {
		return newError(ErrNotFound, "api key %q in tenant %q", op.GetId(), op.GetTenant())
	}
	delete(t.keys, op.GetId())
	delete(s.keyTenant, op.GetId())
	return nil
}

// touchAPIKeys moves last-used times forward. Keys revoked since the use
// was seen are skipped: a touch never fails.
func (s *State) touchAPIKeys(op *cassnetv1.TouchAPIKeys) {
	for _, u := range op.GetEntries() {
		tenant, ok := s.keyTenant[u.GetId()]
		if !ok {
			continue
		}
		t := s.tenants[tenant]
		k := t.keys[u.GetId()]
		used := time.Unix(u.GetLastUsedUnix(), 0).UTC()
		if k.LastUsedAt != nil && !used.After(*k.LastUsedAt) {
			continue
		}
		k.LastUsedAt = &used // a new pointer, never a write through the old one
		t.keys[u.GetId()] = k
	}
}

// rotateSigningKey retires the active key, if any, and makes the new one
// active.
func (s *State) rotateSigningKey(op *cassnetv1.RotateSigningKey, actor string, at time.Time) error {
	kid := op.GetKid()
	if _, dup := s.signing[kid]; dup {
		return newError(ErrConflict, "signing key %q already exists", kid)
	}
	active, hasActive := s.activeSigningKey()
	if op.GetIfNone() && hasActive {
		return newError(ErrConflict, "a signing key is already active")
	}
	if hasActive {
		retired := at
		active.RetiredAt = &retired
		s.signing[active.KID] = active
		s.notePrune(s.signingPruneAt(active))
	}
	s.signing[kid] = SigningKey{
		KID: kid, PrivateKey: slices.Clone(op.GetPrivateKey()),
		CreatedAt: at, CreatedBy: actor,
	}
	return nil
}

// activeSigningKey is the key with no RetiredAt. The caller holds a lock.
func (s *State) activeSigningKey() (SigningKey, bool) {
	for _, k := range s.signing {
		if k.RetiredAt == nil {
			return k, true
		}
	}
	return SigningKey{}, false
}

// revocationExpiry is when a revocation made at at may be forgotten.
func (s *State) revocationExpiry(unix int64, at time.Time) time.Time {
	if unix > 0 {
		return time.Unix(unix, 0).UTC()
	}
	return at.Add(s.settings.MaxSessionTTL())
}

func (s *State) revokeSession(op *cassnetv1.RevokeSession, actor string, at time.Time) error {
	t, ok := s.tenants[op.GetTenant()]
	if !ok {
		return newError(ErrNotFound, "tenant %q", op.GetTenant())
	}
	sid := op.GetSessionId()
	exp := s.revocationExpiry(op.GetExpiresUnix(), at)
	if old, ok := t.sessions[sid]; ok {
		// Revoking again is harmless; keep the later expiry.
		if exp.Before(old.ExpiresAt) {
			exp = old.ExpiresAt
		}
	} else if len(t.sessions)+len(t.players) >= MaxRevocationsPerTenant {
		return newError(ErrConflict, "tenant %q has the maximum of %d unexpired revocations", op.GetTenant(), MaxRevocationsPerTenant)
	}
	t.sessions[sid] = SessionRevocation{
		Tenant: op.GetTenant(), SessionID: sid,
		RevokedAt: at, RevokedBy: actor, ExpiresAt: exp,
	}
	s.notePrune(&exp)
	return nil
}

func (s *State) revokePlayerSessions(op *cassnetv1.RevokePlayerSessions, actor string, at time.Time) error {
	t, err := s.tenantProject(op.GetTenant(), op.GetProject())
	if err != nil {
		return err
	}
	key := playerScope{player: op.GetPlayerId(), project: op.GetProject()}
	exp := s.revocationExpiry(op.GetExpiresUnix(), at)
	if old, ok := t.players[key]; ok {
		if exp.Before(old.ExpiresAt) {
			exp = old.ExpiresAt
		}
	} else if len(t.sessions)+len(t.players) >= MaxRevocationsPerTenant {
		return newError(ErrConflict, "tenant %q has the maximum of %d unexpired revocations", op.GetTenant(), MaxRevocationsPerTenant)
	}
	t.players[key] = PlayerRevocation{
		Tenant: op.GetTenant(), PlayerID: key.player, ProjectID: key.project,
		RevokedAt: at, RevokedBy: actor, ExpiresAt: exp,
	}
	s.notePrune(&exp)
	return nil
}

// authFailureEntries turns aggregated failures into audit entries: the
// actor is the credential that failed (never its secret), the target the
// reason, and the detail the count and the reporting node.
func authFailureEntries(op *cassnetv1.RecordAuthFailures, base AuditEntry) []AuditEntry {
	out := make([]AuditEntry, 0, len(op.GetEntries()))
	for _, f := range op.GetEntries() {
		e := base
		e.Action = "auth.failure"
		e.Actor = f.GetCredential()
		e.Tenant = f.GetTenant()
		e.Target = f.GetReason()
		e.Detail = fmt.Sprintf("count=%d node=%s", f.GetCount(), op.GetNode())
		out = append(out, e)
	}
	return out
}
