package consensus

import (
	"strings"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Identity limits the validators enforce.
const (
	keyIDLen         = 16 // lowercase hex, as in operator tokens
	ed25519SeedLen   = 32
	maxKeyName       = 128
	maxCredentialLen = 64
	maxNodeNameLen   = 128
)

// ValidateRole checks an API key role. The error wraps ErrInvalid.
func ValidateRole(role string) error {
	switch role {
	case RoleTenantAdmin, RoleGameServer, RoleReadOnly:
		return nil
	}
	return newError(ErrInvalid, "role: must be %s, %s or %s", RoleTenantAdmin, RoleGameServer, RoleReadOnly)
}

// ValidateKeyID checks an API key or operator token ID: 16 lowercase hex
// characters. The error wraps ErrInvalid.
func ValidateKeyID(field, id string) error {
	if len(id) != keyIDLen {
		return newError(ErrInvalid, "%s: must be %d lowercase hex characters", field, keyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return newError(ErrInvalid, "%s: must be %d lowercase hex characters", field, keyIDLen)
		}
	}
	return nil
}

// ValidateKeyName checks the display name of an API key or operator
// token: 1 to 128 bytes of printable UTF-8. The error wraps ErrInvalid.
func ValidateKeyName(name string) error {
	if name == "" {
		return newError(ErrInvalid, "name: is required")
	}
	return validateText("name", name, maxKeyName)
}

// ValidateSessionID checks a session or signing key identifier: the shape
// ValidateName accepts. The error wraps ErrInvalid.
func ValidateSessionID(field, id string) error { return ValidateName(field, id) }

// errNotIdentity is what validateIdentityOp returns for an operation that
// is not one of the identity operations (or an empty oneof wrapper).
var errNotIdentity = newError(ErrInvalid, "op: exactly one known operation must be set")

// validateIdentityOp validates the identity operations.
func validateIdentityOp(cmd *cassnetv1.Command) error {
	switch op := cmd.GetOp().(type) {
	case *cassnetv1.Command_RevokeOperatorToken:
		if op.RevokeOperatorToken == nil {
			return errNotIdentity
		}
		return ValidateKeyID("id", op.RevokeOperatorToken.GetId())
	case *cassnetv1.Command_CreateApiKey:
		if op.CreateApiKey == nil {
			return errNotIdentity
		}
		return validateCreateAPIKey(op.CreateApiKey)
	case *cassnetv1.Command_RevokeApiKey:
		if op.RevokeApiKey == nil {
			return errNotIdentity
		}
		return firstError(ValidateName("tenant", op.RevokeApiKey.GetTenant()),
			ValidateKeyID("id", op.RevokeApiKey.GetId()))
	case *cassnetv1.Command_TouchApiKeys:
		if op.TouchApiKeys == nil {
			return errNotIdentity
		}
		return validateTouch(op.TouchApiKeys)
	case *cassnetv1.Command_RotateSigningKey:
		if op.RotateSigningKey == nil {
			return errNotIdentity
		}
		if err := ValidateSessionID("kid", op.RotateSigningKey.GetKid()); err != nil {
			return err
		}
		if n := len(op.RotateSigningKey.GetPrivateKey()); n != ed25519SeedLen {
			return newError(ErrInvalid, "private_key: must be a %d-byte Ed25519 seed, got %d bytes", ed25519SeedLen, n)
		}
		return nil
	case *cassnetv1.Command_RevokeSession:
		if op.RevokeSession == nil {
			return errNotIdentity
		}
		r := op.RevokeSession
		return firstError(ValidateName("tenant", r.GetTenant()),
			ValidateSessionID("session_id", r.GetSessionId()),
			nonNegative("expires_unix", r.GetExpiresUnix()))
	case *cassnetv1.Command_RevokePlayerSessions:
		if op.RevokePlayerSessions == nil {
			return errNotIdentity
		}
		r := op.RevokePlayerSessions
		err := firstError(ValidateName("tenant", r.GetTenant()), ValidatePlayerID(r.GetPlayerId()),
			nonNegative("expires_unix", r.GetExpiresUnix()))
		if err == nil && r.GetProject() != "" {
			err = ValidateName("project", r.GetProject())
		}
		return err
	case *cassnetv1.Command_RecordAuthFailures:
		if op.RecordAuthFailures == nil {
			return errNotIdentity
		}
		return validateAuthFailures(op.RecordAuthFailures)
	}
	return errNotIdentity
}

func nonNegative(field string, v int64) error {
	if v < 0 {
		return newError(ErrInvalid, "%s: must not be negative", field)
	}
	return nil
}

func validateCreateAPIKey(k *cassnetv1.CreateAPIKey) error {
	err := firstError(
		ValidateKeyID("id", k.GetId()),
		ValidateName("tenant", k.GetTenant()),
		ValidateKeyName(k.GetName()),
		ValidateRole(k.GetRole()),
		nonNegative("expires_unix", k.GetExpiresUnix()))
	if err != nil {
		return err
	}
	if p := k.GetProject(); p != "" {
		if k.GetRole() != RoleGameServer {
			return newError(ErrInvalid, "project_id: only %s keys may be scoped to a project", RoleGameServer)
		}
		if err := ValidateName("project_id", p); err != nil {
			return err
		}
	}
	if n := len(k.GetSecretSha256()); n != secretHashLen {
		return newError(ErrInvalid, "secret_sha256: must be %d bytes, got %d", secretHashLen, n)
	}
	return nil
}

func validateTouch(t *cassnetv1.TouchAPIKeys) error {
	n := len(t.GetEntries())
	if n == 0 || n > MaxTouchEntries {
		return newError(ErrInvalid, "entries: must hold 1 to %d key uses", MaxTouchEntries)
	}
	for _, u := range t.GetEntries() {
		if err := ValidateKeyID("entries.id", u.GetId()); err != nil {
			return err
		}
		if u.GetLastUsedUnix() <= 0 {
			return newError(ErrInvalid, "entries.last_used_unix: must be positive")
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
	if !ok || (kind != "apikey" && kind != "operator") || ValidateKeyID("credential", id) != nil {
		return newError(ErrInvalid, "credential: must be anonymous, apikey:<id> or operator:<id>")
	}
	return nil
}

func validateAuthFailures(r *cassnetv1.RecordAuthFailures) error {
	n := len(r.GetEntries())
	if n == 0 || n > MaxAuthFailureEntries {
		return newError(ErrInvalid, "entries: must hold 1 to %d failures", MaxAuthFailureEntries)
	}
	if r.GetNode() == "" {
		return newError(ErrInvalid, "node: is required")
	}
	if err := validateText("node", r.GetNode(), maxNodeNameLen); err != nil {
		return err
	}
	for _, f := range r.GetEntries() {
		if err := validateCredential(f.GetCredential()); err != nil {
			return err
		}
		if err := ValidateName("reason", f.GetReason()); err != nil {
			return err
		}
		if t := f.GetTenant(); t != "" {
			if err := ValidateName("tenant", t); err != nil {
				return err
			}
		}
		if f.GetCount() == 0 {
			return newError(ErrInvalid, "count: must be positive")
		}
	}
	return nil
}

func validateSetSettings(op *cassnetv1.SetSettings) error {
	r, ttl := op.GetAuditRetention(), op.GetMaxSessionTtlSeconds()
	if r == 0 && ttl == 0 {
		return newError(ErrInvalid, "settings: at least one of audit_retention and max_session_ttl_seconds must be set")
	}
	if r > MaxAuditRetention {
		return newError(ErrInvalid, "audit_retention: must be between 1 and %d", MaxAuditRetention)
	}
	if ttl != 0 && (ttl < 60 || ttl > MaxSessionTTLLimit) {
		return newError(ErrInvalid, "max_session_ttl_seconds: must be between 60 and %d", MaxSessionTTLLimit)
	}
	return nil
}
