package identity

import (
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// ValidateRole checks an API key role. The error wraps ErrInvalid.
func ValidateRole(role string) error {
	switch role {
	case RoleTenantAdmin, RoleGameServer, RoleReadOnly, RoleMatchmaker:
		return nil
	}
	return consensus.NewError(consensus.ErrInvalid, "role: must be %s, %s, %s or %s", RoleTenantAdmin, RoleGameServer, RoleReadOnly, RoleMatchmaker)
}

// ProjectScoped reports whether keys of role may be confined to one
// project.
func ProjectScoped(role string) bool { return role == RoleGameServer || role == RoleMatchmaker }

// ValidateKeyName checks the display name of an API key or operator
// token: 1 to 128 bytes of printable UTF-8. The error wraps ErrInvalid.
func ValidateKeyName(name string) error {
	if name == "" {
		return consensus.NewError(consensus.ErrInvalid, "name: is required")
	}
	return consensus.ValidateText("name", name, maxKeyName)
}

// ValidateSessionID checks a session or signing key identifier: the shape
// ValidateName accepts. The error wraps ErrInvalid.
func ValidateSessionID(field, id string) error { return consensus.ValidateName(field, id) }

func validateCreateAPIKey(k *cassnetv1.CreateAPIKey) error {
	err := consensus.FirstError(
		consensus.ValidateKeyID("id", k.GetId()),
		consensus.ValidateName("tenant", k.GetTenant()),
		ValidateKeyName(k.GetName()),
		ValidateRole(k.GetRole()),
		consensus.NonNegative("expires_unix", k.GetExpiresUnix()))
	if err != nil {
		return err
	}
	if p := k.GetProject(); p != "" {
		if !ProjectScoped(k.GetRole()) {
			return consensus.NewError(consensus.ErrInvalid, "project_id: only %s and %s keys may be scoped to a project", RoleGameServer, RoleMatchmaker)
		}
		if err := consensus.ValidateName("project_id", p); err != nil {
			return err
		}
	}
	if n := len(k.GetSecretSha256()); n != secretHashLen {
		return consensus.NewError(consensus.ErrInvalid, "secret_sha256: must be %d bytes, got %d", secretHashLen, n)
	}
	return nil
}

func validateTouch(t *cassnetv1.TouchAPIKeys) error {
	n := len(t.GetEntries())
	if n == 0 || n > MaxTouchEntries {
		return consensus.NewError(consensus.ErrInvalid, "entries: must hold 1 to %d key uses", MaxTouchEntries)
	}
	for _, u := range t.GetEntries() {
		if err := consensus.ValidateKeyID("entries.id", u.GetId()); err != nil {
			return err
		}
		if u.GetLastUsedUnix() <= 0 {
			return consensus.NewError(consensus.ErrInvalid, "entries.last_used_unix: must be positive")
		}
	}
	return nil
}

// validateCredential accepts "anonymous" or "<kind>:<key id>" for the
// kinds apikey and operator.
func validateCredential(c string) error {
	if c == "anonymous" {
		return nil
	}
	kind, id, ok := strings.Cut(c, ":")
	if !ok || (kind != "apikey" && kind != "operator") || consensus.ValidateKeyID("credential", id) != nil {
		return consensus.NewError(consensus.ErrInvalid, "credential: must be anonymous, apikey:<id> or operator:<id>")
	}
	return nil
}

func validateAuthFailures(r *cassnetv1.RecordAuthFailures) error {
	n := len(r.GetEntries())
	if n == 0 || n > MaxAuthFailureEntries {
		return consensus.NewError(consensus.ErrInvalid, "entries: must hold 1 to %d failures", MaxAuthFailureEntries)
	}
	if r.GetNode() == "" {
		return consensus.NewError(consensus.ErrInvalid, "node: is required")
	}
	if err := consensus.ValidateText("node", r.GetNode(), maxNodeNameLen); err != nil {
		return err
	}
	for _, f := range r.GetEntries() {
		if err := validateCredential(f.GetCredential()); err != nil {
			return err
		}
		if err := consensus.ValidateName("reason", f.GetReason()); err != nil {
			return err
		}
		if t := f.GetTenant(); t != "" {
			if err := consensus.ValidateName("tenant", t); err != nil {
				return err
			}
		}
		if f.GetCount() == 0 {
			return consensus.NewError(consensus.ErrInvalid, "count: must be positive")
		}
	}
	return nil
}

func validateRotate(op *cassnetv1.RotateSigningKey) error {
	if err := ValidateSessionID("kid", op.GetKid()); err != nil {
		return err
	}
	if n := len(op.GetPrivateKey()); n != ed25519SeedLen {
		return consensus.NewError(consensus.ErrInvalid, "private_key: must be a %d-byte Ed25519 seed, got %d bytes", ed25519SeedLen, n)
	}
	return nil
}

func validateRevokeSession(r *cassnetv1.RevokeSession) error {
	return consensus.FirstError(consensus.ValidateName("tenant", r.GetTenant()),
		ValidateSessionID("session_id", r.GetSessionId()),
		consensus.NonNegative("expires_unix", r.GetExpiresUnix()))
}

func validateRevokePlayer(r *cassnetv1.RevokePlayerSessions) error {
	err := consensus.FirstError(consensus.ValidateName("tenant", r.GetTenant()), consensus.ValidatePlayerID(r.GetPlayerId()),
		consensus.NonNegative("expires_unix", r.GetExpiresUnix()))
	if err == nil && r.GetProject() != "" {
		err = consensus.ValidateName("project", r.GetProject())
	}
	return err
}

func validateRevokeKey(op *cassnetv1.RevokeAPIKey) error {
	return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()),
		consensus.ValidateKeyID("id", op.GetId()))
}
