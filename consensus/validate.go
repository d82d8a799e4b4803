package consensus

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Limits enforced by the validators.
const (
	// MaxBanDuration is the longest finite ban a CreateBan may ask for.
	MaxBanDuration = 100 * 365 * 24 * time.Hour
	// MaxAuditRetention is the largest audit retention SetSettings accepts.
	MaxAuditRetention = 1_000_000

	maxNameLen     = 63
	maxPlayerIDLen = 128
	maxReasonLen   = 512
	maxActorLen    = 256
	maxTokenName   = 128
	secretHashLen  = 32
)

// ValidateName checks a tenant or project name, or an identifier of the same
// shape: 1 to 63 characters, a lowercase letter or digit first, then
// lowercase letters, digits, '_' or '-'. field names the offending field in
// the error, which wraps ErrInvalid.
func ValidateName(field, s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return newError(ErrInvalid, "%s: must be 1 to %d characters", field, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return newError(ErrInvalid, "%s: must match ^[a-z0-9][a-z0-9_-]*$", field)
		}
	}
	return nil
}

// ValidatePlayerID checks a player identifier: 1 to 128 characters from
// [A-Za-z0-9._:@-]. The error wraps ErrInvalid.
func ValidatePlayerID(s string) error {
	if len(s) == 0 || len(s) > maxPlayerIDLen {
		return newError(ErrInvalid, "player_id: must be 1 to %d characters", maxPlayerIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '@' || c == '-'
		if !ok {
			return newError(ErrInvalid, "player_id: may contain only letters, digits and ._:@-")
		}
	}
	return nil
}

// ValidateReason checks a ban reason: at most 512 bytes of valid UTF-8 with
// no control characters. An empty reason is allowed. The error wraps
// ErrInvalid.
func ValidateReason(s string) error {
	return validateText("reason", s, maxReasonLen)
}

// ValidateBanID checks a ban identifier. It accepts what ValidateName
// accepts, which includes every identifier NewBanID generates
// ("ban_" followed by 16 lowercase hex digits).
func ValidateBanID(s string) error {
	return ValidateName("id", s)
}

// NewBanID returns a fresh random ban identifier: "ban_" followed by 16
// lowercase hex digits from crypto/rand.
func NewBanID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new ban id: %w", err)
	}
	return "ban_" + hex.EncodeToString(b[:]), nil
}

// validateText checks free text: at most max bytes, valid UTF-8, no control
// characters (so it cannot forge lines in logs or terminals). Empty is fine.
func validateText(field, s string, max int) error {
	if len(s) > max {
		return newError(ErrInvalid, "%s: must be at most %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return newError(ErrInvalid, "%s: must be valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return newError(ErrInvalid, "%s: must not contain control characters", field)
		}
	}
	return nil
}

// ValidateCommand checks a command without looking at any state: the
// envelope version, the actor, that exactly one operation is set, and that
// operation's fields. It does not require time_unix_nano, which the leader
// stamps after validating; the FSM checks that separately. The error wraps
// ErrInvalid.
func ValidateCommand(cmd *cassnetv1.Command) error {
	if cmd == nil {
		return newError(ErrInvalid, "command: missing")
	}
	if v := cmd.GetVersion(); v != CommandVersion {
		return newError(ErrInvalid, "version: unknown command version %d (want %d)", v, CommandVersion)
	}
	if err := validateText("actor", cmd.GetActor(), maxActorLen); err != nil {
		return err
	}
	switch op := cmd.GetOp().(type) {
	case *cassnetv1.Command_CreateTenant:
		if op.CreateTenant == nil {
			break
		}
		return ValidateName("name", op.CreateTenant.GetName())
	case *cassnetv1.Command_DeleteTenant:
		if op.DeleteTenant == nil {
			break
		}
		return ValidateName("name", op.DeleteTenant.GetName())
	case *cassnetv1.Command_CreateProject:
		if op.CreateProject == nil {
			break
		}
		return firstError(
			ValidateName("tenant", op.CreateProject.GetTenant()),
			ValidateName("name", op.CreateProject.GetName()))
	case *cassnetv1.Command_CreateBan:
		if op.CreateBan == nil {
			break
		}
		return validateCreateBan(op.CreateBan)
	case *cassnetv1.Command_RevokeBan:
		if op.RevokeBan == nil {
			break
		}
		return firstError(
			ValidateName("tenant", op.RevokeBan.GetTenant()),
			ValidateBanID(op.RevokeBan.GetId()))
	case *cassnetv1.Command_SetSettings:
		if op.SetSettings == nil {
			break
		}
		return validateSetSettings(op.SetSettings)
	case *cassnetv1.Command_UpdateGossipKeyring:
		if op.UpdateGossipKeyring == nil {
			break
		}
		return validateGossipKeyring(op.UpdateGossipKeyring)
	case *cassnetv1.Command_CreateJoinToken:
		if op.CreateJoinToken == nil {
			break
		}
		return validateCreateJoinToken(op.CreateJoinToken)
	case *cassnetv1.Command_RevokeJoinToken:
		if op.RevokeJoinToken == nil {
			break
		}
		return validateRevokeJoinToken(op.RevokeJoinToken)
	case *cassnetv1.Command_CreateOperatorToken:
		if op.CreateOperatorToken == nil {
			break
		}
		tok := op.CreateOperatorToken
		if err := firstError(ValidateName("id", tok.GetId()), validateText("name", tok.GetName(), maxTokenName)); err != nil {
			return err
		}
		if n := len(tok.GetSecretSha256()); n != secretHashLen {
			return newError(ErrInvalid, "secret_sha256: must be %d bytes, got %d", secretHashLen, n)
		}
		if tok.GetExpiresUnix() < 0 {
			return newError(ErrInvalid, "expires_unix: must not be negative")
		}
		return nil
	default:
		if err := validateIdentityOp(cmd); err != errNotIdentity {
			return err
		}
	}
	// No operation, an empty oneof wrapper, or an operation this node does
	// not know (a newer node's field arrives as an unknown field).
	return newError(ErrInvalid, "op: exactly one known operation must be set")
}

// validateEntry is what the FSM requires of a committed command: a valid
// command that the leader has stamped with its time.
func validateEntry(cmd *cassnetv1.Command) error {
	if err := ValidateCommand(cmd); err != nil {
		return err
	}
	if cmd.GetTimeUnixNano() <= 0 {
		return newError(ErrInvalid, "time_unix_nano: must be stamped by the leader")
	}
	return nil
}

func validateCreateBan(b *cassnetv1.CreateBan) error {
	err := firstError(
		ValidateBanID(b.GetId()),
		ValidateName("tenant", b.GetTenant()),
		ValidatePlayerID(b.GetPlayerId()),
		ValidateReason(b.GetReason()))
	if err != nil {
		return err
	}
	if p := b.GetProject(); p != "" {
		if err := ValidateName("project", p); err != nil {
			return err
		}
	}
	if d := b.GetDurationSeconds(); d < 0 || d > int64(MaxBanDuration/time.Second) {
		return newError(ErrInvalid, "duration_seconds: must be between 0 (permanent) and %d", int64(MaxBanDuration/time.Second))
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
