package consensus

import (
	"errors"
	"regexp"
	"strings"
	"testing"

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

func TestValidateReason(t *testing.T) {
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
			checkValid(t, ValidateReason(tt.in), tt.ok, "reason")
		})
	}
}

func TestNewBanID(t *testing.T) {
	format := regexp.MustCompile(`^ban_[0-9a-f]{16}$`)
	seen := make(map[string]bool)
	for range 100 {
		id, err := NewBanID()
		if err != nil {
			t.Fatal(err)
		}
		if !format.MatchString(id) {
			t.Fatalf("NewBanID = %q", id)
		}
		if err := ValidateBanID(id); err != nil {
			t.Fatalf("ValidateBanID(%q) = %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewBanID repeated %q", id)
		}
		seen[id] = true
	}
	checkValid(t, ValidateBanID("Ban_1"), false, "id")
	checkValid(t, ValidateBanID(""), false, "id")
}

func TestValidateCommand(t *testing.T) {
	secret := make([]byte, 32)
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
		{"version 0", with(createTenant("a"), func(c *cassnetv1.Command) { c.Version = 0 }), "version"},
		{"version 2", with(createTenant("a"), func(c *cassnetv1.Command) { c.Version = 2 }), "version"},
		{"time is not required before stamping", createTenant("a"), ""},
		{"actor control char", with(createTenant("a"), func(c *cassnetv1.Command) { c.Actor = "x\ny" }), "actor"},
		{"actor too long", with(createTenant("a"), func(c *cassnetv1.Command) { c.Actor = strings.Repeat("x", 257) }), "actor"},
		{"create tenant", createTenant("a"), ""},
		{"create tenant bad", createTenant("A"), "name"},
		{"delete tenant bad", deleteTenant(""), "name"},
		{"create project", createProject("a", "b"), ""},
		{"create project bad tenant", createProject("", "b"), "tenant"},
		{"create project bad name", createProject("a", "B"), "name"},
		{"create ban", createBan("a", "ban_0123456789abcdef", "", "p", 0), ""},
		{"create ban project", createBan("a", "b", "g", "p", 1), ""},
		{"create ban bad project", createBan("a", "b", "G", "p", 1), "project"},
		{"create ban bad tenant", createBan("", "b", "", "p", 1), "tenant"},
		{"create ban bad id", createBan("a", "", "", "p", 1), "id"},
		{"create ban bad player", createBan("a", "b", "", "", 1), "player_id"},
		{"create ban negative", createBan("a", "b", "", "p", -5), "duration_seconds"},
		{"create ban bad reason", with(createBan("a", "b", "", "p", 0), func(c *cassnetv1.Command) {
			c.GetCreateBan().Reason = "\x00"
		}), "reason"},
		{"revoke ban", revokeBan("a", "b"), ""},
		{"revoke ban bad id", revokeBan("a", "B"), "id"},
		{"revoke ban bad tenant", revokeBan("", "b"), "tenant"},
		{"settings min", setSettings(1), ""},
		{"settings max", setSettings(MaxAuditRetention), ""},
		{"settings zero", setSettings(0), "audit_retention"},
		{"token", createToken("t1", secret), ""},
		{"token bad id", createToken("T1", secret), "id"},
		{"token long secret", createToken("t1", make([]byte, 33)), "secret_sha256"},
		{"token bad name", with(createToken("t1", secret), func(c *cassnetv1.Command) {
			c.GetCreateOperatorToken().Name = "\t"
		}), "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, ValidateCommand(tt.cmd), tt.field == "", tt.field)
		})
	}
}
