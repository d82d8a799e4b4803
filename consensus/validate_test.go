package consensus

import (
	"errors"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// checkValid fails unless err is nil when ok, or wraps ErrInvalid and
// names field when not.
func checkValid(t *testing.T, err error, ok bool, field string) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case !ok && !errors.Is(err, ErrInvalid):
		t.Fatalf("err = %v, want ErrInvalid", err)
	case !ok && !strings.Contains(err.Error(), field):
		t.Fatalf("error %q does not name the field %q", err, field)
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"a", true},
		{"0", true},
		{"acme-games_2", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"-acme", false},
		{"_acme", false},
		{"Acme", false},
		{"acme.games", false},
		{"acme games", false},
		{"café", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkValid(t, ValidateName("tenant", tt.in), tt.ok, "tenant")
		})
	}
}

func TestValidatePlayerID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"p", true},
		{"Steam:7656119.x_y@eu-1", true},
		{strings.Repeat("P", 128), true},
		{strings.Repeat("P", 129), false},
		{"", false},
		{"a b", false},
		{"a/b", false},
		{"ü", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkValid(t, ValidatePlayerID(tt.in), tt.ok, "player_id")
		})
	}
}

// TestValidateText is the old TestValidateReason for the generic
// validator the ban reason uses (max 512 bytes).
func TestValidateText(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"empty", "", true},
		{"unicode", "triche / 作弊 🎮", true},
		{"max bytes", strings.Repeat("é", 256), true},
		{"too long", strings.Repeat("a", 513), false},
		{"newline", "a\nb", false},
		{"escape", "\x1b[2J", false},
		{"C1 control", "a\u0085b", false},
		{"invalid utf-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, ValidateText("reason", tt.in, 512), tt.ok, "reason")
		})
	}
}

func TestValidateKeyID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"0123456789abcdef", true},
		{"0123456789ABCDEF", false},
		{"0123456789abcde", false},
		{"0123456789abcdef0", false},
		{"0123456789abcdeg", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkValid(t, ValidateKeyID("id", tt.in), tt.ok, "id")
		})
	}
}

func TestNonNegativeAndFirstError(t *testing.T) {
	checkValid(t, NonNegative("expires_unix", 0), true, "")
	checkValid(t, NonNegative("expires_unix", -1), false, "expires_unix")
	first := NewError(ErrInvalid, "first")
	if err := FirstError(nil, first, NewError(ErrConflict, "second")); err != first {
		t.Fatalf("FirstError = %v", err)
	}
	if err := FirstError(nil, nil); err != nil {
		t.Fatalf("FirstError(nil, nil) = %v", err)
	}
}

func TestExpiresAt(t *testing.T) {
	at := testEpoch
	if exp, err := ExpiresAt(0, at); exp != nil || err != nil {
		t.Fatalf("ExpiresAt(0) = %v, %v; want no expiry", exp, err)
	}
	exp, err := ExpiresAt(at.Unix()+1, at.In(time.FixedZone("x", 3600)))
	if err != nil || !exp.Equal(at.Add(time.Second)) || exp.Location() != time.UTC {
		t.Fatalf("ExpiresAt(+1s) = %v, %v", exp, err)
	}
	for _, unix := range []int64{at.Unix(), at.Unix() - 1} {
		if _, err := ExpiresAt(unix, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("ExpiresAt(%d) = %v, want ErrInvalid", unix, err)
		}
	}
	if UTC(nil) != nil {
		t.Error("UTC(nil) != nil")
	}
}

// TestValidateCommand checks the envelope checks FSM.ValidateCommand makes
// before a command enters the log, and that it defers the operation's
// fields to the module that owns it. The domains' field checks are tested
// in package state.
func TestValidateCommand(t *testing.T) {
	tests := []struct {
		name  string
		cmd   *cassnetv1.Command
		field string // "" when valid
	}{
		{"nil", nil, "command"},
		{"no op", newCmd(), "op"},
		{"empty oneof wrapper", with(newCmd(), func(c *cassnetv1.Command) {
			c.Op = &cassnetv1.Command_CreateBan{}
		}), "op"},
		{"op no module handles", revokeBan("a", "b"), "op"},
		{"version 0", with(createTenant("a"), func(c *cassnetv1.Command) { c.Version = 0 }), "version"},
		{"version 2", with(createTenant("a"), func(c *cassnetv1.Command) { c.Version = 2 }), "version"},
		{"time is not required before stamping", createTenant("a"), ""},
		{"actor control char", with(createTenant("a"), func(c *cassnetv1.Command) { c.Actor = "x\ny" }), "actor"},
		{"actor too long", with(createTenant("a"), func(c *cassnetv1.Command) { c.Actor = strings.Repeat("x", 257) }), "actor"},
		{"actor longest", with(createTenant("a"), func(c *cassnetv1.Command) { c.Actor = strings.Repeat("x", 256) }), ""},
		{"module's validator", createTenant("A"), "name"},
		{"module's validator second field", createProject("a", "B"), "name"},
		{"state version not checked", createBan("b1"), ""},
		{"engine op", setStateVersion(StateVersionDomains), ""},
		{"engine op unsupported version", setStateVersion(SupportedStateVersion + 1), "version"},
	}
	f := newFakes(t).fsm
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, f.ValidateCommand(tt.cmd), tt.field == "", tt.field)
		})
	}
}
