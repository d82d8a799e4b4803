package consensus

import (
	"time"
	"unicode"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Field validators shared by every module. They check the shape of an
// identifier or a piece of text, never its meaning, and return errors
// that wrap ErrInvalid and name the field.

const (
	maxNameLen  = 63
	maxActorLen = 256
	keyIDLen    = 16
)

// ValidateName checks a tenant or project name, or an identifier of the same
// shape: 1 to 63 characters, a lowercase letter or digit first, then
// lowercase letters, digits, '_' or '-'. field names the offending field in
// the error, which wraps ErrInvalid.
func ValidateName(field, s string) error {
	if len(s) == 0 || len(s) > maxNameLen {
		return NewError(ErrInvalid, "%s: must be 1 to %d characters", field, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return NewError(ErrInvalid, "%s: must match ^[a-z0-9][a-z0-9_-]*$", field)
		}
	}
	return nil
}

// ValidateText checks free text: at most max bytes, valid UTF-8, no control
// characters (so it cannot forge lines in logs or terminals). Empty is fine.
func ValidateText(field, s string, max int) error {
	if len(s) > max {
		return NewError(ErrInvalid, "%s: must be at most %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return NewError(ErrInvalid, "%s: must be valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return NewError(ErrInvalid, "%s: must not contain control characters", field)
		}
	}
	return nil
}

// ValidateKeyID checks a credential identifier (an API key, operator
// token or similar): 16 lowercase hex characters.
func ValidateKeyID(field, id string) error {
	if len(id) != keyIDLen {
		return NewError(ErrInvalid, "%s: must be %d lowercase hex characters", field, keyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return NewError(ErrInvalid, "%s: must be %d lowercase hex characters", field, keyIDLen)
		}
	}
	return nil
}

// NonNegative checks that an integer field is not negative.
func NonNegative(field string, v int64) error {
	if v < 0 {
		return NewError(ErrInvalid, "%s: must not be negative", field)
	}
	return nil
}

// FirstError returns the first non-nil error.
func FirstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func validateActor(actor string) error { return ValidateText("actor", actor, maxActorLen) }

// ValidateCommand checks a command against fsm's routing table without
// looking at any state: the envelope version, the actor, that exactly one
// known operation is set, and that operation's fields. It does not require
// time_unix_nano, which the leader stamps after validating. The error
// wraps ErrInvalid.
func (f *FSM) ValidateCommand(cmd *cassnetv1.Command) error {
	_, _, err := f.router.validate(cmd)
	return err
}

const maxIdentifierLen = 128

// ValidatePlayerID checks a player identifier (ValidateIdentifier's
// shape). The error wraps ErrInvalid.
func ValidatePlayerID(s string) error { return ValidateIdentifier("player_id", s) }

// ValidateIdentifier checks an opaque identifier a client chooses (a
// player, a game server, an allocation): 1 to 128 characters from
// [A-Za-z0-9._:@-]. field names it in the error, which wraps ErrInvalid.
func ValidateIdentifier(field, s string) error {
	if len(s) == 0 || len(s) > maxIdentifierLen {
		return NewError(ErrInvalid, "%s: must be 1 to %d characters", field, maxIdentifierLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '@' || c == '-'
		if !ok {
			return NewError(ErrInvalid, "%s: may contain only letters, digits and ._:@-", field)
		}
	}
	return nil
}

// ExpiresAt turns an optional Unix-seconds expiry into a time, and rejects
// one that is not after at (the leader's time): a credential born expired
// is a caller's mistake. Zero means no expiry.
func ExpiresAt(unix int64, at time.Time) (*time.Time, error) {
	if unix == 0 {
		return nil, nil
	}
	t := time.Unix(unix, 0).UTC()
	if !t.After(at) {
		return nil, NewError(ErrInvalid, "expires_unix: must be in the future")
	}
	return &t, nil
}

// UTC returns a copy of t in UTC, or nil.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
