package identity

import (
	"fmt"
	"slices"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateAPIKey]{Validate: validateCreateAPIKey, Apply: s.createKey})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokeAPIKey]{Validate: validateRevokeKey, Apply: s.revokeKey})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.TouchAPIKeys]{Validate: validateTouch, Apply: s.touchKeys})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RotateSigningKey]{Validate: validateRotate, Apply: s.rotate})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokeSession]{Validate: validateRevokeSession, Apply: s.revokeSession})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokePlayerSessions]{Validate: validateRevokePlayer, Apply: s.revokePlayer})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RecordAuthFailures]{Validate: validateAuthFailures, Apply: recordAuthFailures})
}

func (s *Store) createKey(tx *consensus.Tx, k *cassnetv1.CreateAPIKey) error {
	if k.GetRole() == RoleMatchmaker && tx.StateVersion() < consensus.StateVersionDomains {
		// First-release nodes do not know the role and would skip the key.
		return consensus.NewError(consensus.ErrStateVersion, "role %s: needs state version %d; the cluster is at %d until every server is upgraded",
			RoleMatchmaker, consensus.StateVersionDomains, tx.StateVersion())
	}
	if err := s.tenancy.CheckTenantProject(tx, k.GetTenant(), k.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	if _, dup := w.keyTenant.Get(k.GetId()); dup {
		return consensus.NewError(consensus.ErrConflict, "api key %q already exists", k.GetId())
	}
	if count(w.keyCount, k.GetTenant()) >= MaxKeysPerTenant {
		return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d api keys", k.GetTenant(), MaxKeysPerTenant)
	}
	exp, err := consensus.ExpiresAt(k.GetExpiresUnix(), tx.Time)
	if err != nil {
		return err
	}
	w.putKey(APIKey{
		ID: k.GetId(), Tenant: k.GetTenant(), Name: k.GetName(),
		Role: k.GetRole(), ProjectID: k.GetProject(),
		SecretSHA256: slices.Clone(k.GetSecretSha256()),
		CreatedAt:    tx.Time, CreatedBy: tx.Actor, ExpiresAt: exp,
	})
	detail := "role=" + k.GetRole()
	if k.GetProject() != "" {
		detail += " project=" + k.GetProject()
	}
	tx.Emit(consensus.Event{Action: "api_key.create", Tenant: k.GetTenant(), Target: k.GetId(), Detail: detail})
	return nil
}

// revokeKey deletes a key; the audit log keeps its history.
func (s *Store) revokeKey(tx *consensus.Tx, op *cassnetv1.RevokeAPIKey) error {
	w := s.write(tx)
	if _, ok := w.keys.Get(table.Key(op.GetTenant(), op.GetId())); !ok {
		return consensus.NewError(consensus.ErrNotFound, "api key %q in tenant %q", op.GetId(), op.GetTenant())
	}
	w.deleteKey(op.GetTenant(), op.GetId())
	tx.Emit(consensus.Event{Action: "api_key.revoke", Tenant: op.GetTenant(), Target: op.GetId()})
	return nil
}

// touchKeys moves last-used times forward. Keys revoked since the use was
// seen are skipped: a touch never fails, and is not audited.
func (s *Store) touchKeys(tx *consensus.Tx, op *cassnetv1.TouchAPIKeys) error {
	w := s.write(tx)
	for _, u := range op.GetEntries() {
		tenant, ok := w.keyTenant.Get(u.GetId())
		if !ok {
			continue
		}
		key := table.Key(tenant, u.GetId())
		k, _ := w.keys.Get(key)
		used := time.Unix(u.GetLastUsedUnix(), 0).UTC()
		if k.LastUsedAt != nil && !used.After(*k.LastUsedAt) {
			continue
		}
		k.LastUsedAt = &used
		w.keys.Put(key, k)
	}
	return nil
}

// rotate retires the active key, if any, and makes the new one active.
func (s *Store) rotate(tx *consensus.Tx, op *cassnetv1.RotateSigningKey) error {
	w := s.write(tx)
	kid := op.GetKid()
	if _, dup := w.signing.Get(kid); dup {
		return consensus.NewError(consensus.ErrConflict, "signing key %q already exists", kid)
	}
	active, hasActive := activeSigning(w.signing)
	if op.GetIfNone() && hasActive {
		return consensus.NewError(consensus.ErrConflict, "a signing key is already active")
	}
	if hasActive {
		retired := tx.Time
		active.RetiredAt = &retired
		w.signing.Put(active.KID, active)
	}
	w.signing.Put(kid, SigningKey{KID: kid, PrivateKey: slices.Clone(op.GetPrivateKey()), CreatedAt: tx.Time, CreatedBy: tx.Actor})
	tx.Emit(consensus.Event{Action: "signing_key.rotate", Target: kid})
	return nil
}

// revocationExpiry is when a revocation made at at may be forgotten.
func (s *Store) revocationExpiry(tx *consensus.Tx, unix int64) time.Time {
	if unix > 0 {
		return time.Unix(unix, 0).UTC()
	}
	return tx.Time.Add(s.settings.InTx(tx).MaxSessionTTL())
}

func (s *Store) revokeSession(tx *consensus.Tx, op *cassnetv1.RevokeSession) error {
	if !s.tenancy.TenantExists(tx, op.GetTenant()) {
		return consensus.NewError(consensus.ErrNotFound, "tenant %q", op.GetTenant())
	}
	w := s.write(tx)
	sid := op.GetSessionId()
	exp := s.revocationExpiry(tx, op.GetExpiresUnix())
	if old, ok := w.sessions.Get(table.Key(op.GetTenant(), sid)); ok {
		// Revoking again is harmless; keep the later expiry.
		if exp.Before(old.ExpiresAt) {
			exp = old.ExpiresAt
		}
	} else if count(w.revCount, op.GetTenant()) >= MaxRevocationsPerTenant {
		return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d unexpired revocations", op.GetTenant(), MaxRevocationsPerTenant)
	}
	w.putSession(SessionRevocation{Tenant: op.GetTenant(), SessionID: sid, RevokedAt: tx.Time, RevokedBy: tx.Actor, ExpiresAt: exp})
	tx.Emit(consensus.Event{Action: "session.revoke", Tenant: op.GetTenant(), Target: sid,
		Data: map[string]string{"scope": "session", "session_id": sid}})
	return nil
}

func (s *Store) revokePlayer(tx *consensus.Tx, op *cassnetv1.RevokePlayerSessions) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	exp := s.revocationExpiry(tx, op.GetExpiresUnix())
	if old, ok := w.players.Get(table.Key(op.GetTenant(), op.GetPlayerId(), op.GetProject())); ok {
		if exp.Before(old.ExpiresAt) {
			exp = old.ExpiresAt
		}
	} else if count(w.revCount, op.GetTenant()) >= MaxRevocationsPerTenant {
		return consensus.NewError(consensus.ErrConflict, "tenant %q has the maximum of %d unexpired revocations", op.GetTenant(), MaxRevocationsPerTenant)
	}
	w.putPlayer(PlayerRevocation{
		Tenant: op.GetTenant(), PlayerID: op.GetPlayerId(), ProjectID: op.GetProject(),
		RevokedAt: tx.Time, RevokedBy: tx.Actor, ExpiresAt: exp,
	})
	e := consensus.Event{Action: "player_sessions.revoke", Tenant: op.GetTenant(), Target: op.GetPlayerId(),
		Data: map[string]string{"scope": "player", "player_id": op.GetPlayerId(), "project_id": op.GetProject()}}
	if op.GetProject() != "" {
		e.Detail = "project=" + op.GetProject()
	}
	tx.Emit(e)
	return nil
}

// recordAuthFailures turns aggregated failures into audit events: the
// actor is the credential that failed (never its secret), the target the
// reason, and the detail the count and the reporting node. It changes no
// state of its own.
func recordAuthFailures(tx *consensus.Tx, op *cassnetv1.RecordAuthFailures) error {
	for _, f := range op.GetEntries() {
		tx.Emit(consensus.Event{
			Actor: f.GetCredential(), Action: "auth.failure", Tenant: f.GetTenant(), Target: f.GetReason(),
			Detail: fmt.Sprintf("count=%d node=%s", f.GetCount(), op.GetNode()),
		})
	}
	return nil
}
