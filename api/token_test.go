package api

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestNewOperatorToken(t *testing.T) {
	token, id, sum, err := NewOperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != len(tokenPrefix)+tokenIDLen+1+tokenSecretLen || !strings.HasPrefix(token, "cnop_") {
		t.Fatalf("token %d chars, shape wrong", len(token))
	}
	gotID, secret, err := ParseOperatorToken(token)
	if err != nil {
		t.Fatalf("parse own token: %v", err)
	}
	if gotID != id || len(secret) != 43 {
		t.Fatalf("parsed id %q (want %q), secret %d chars", gotID, id, len(secret))
	}
	if want := sha256.Sum256([]byte(secret)); string(sum) != string(want[:]) || string(HashSecret(secret)) != string(sum) {
		t.Fatal("secretSHA256 is not SHA-256 of the secret, or HashSecret disagrees")
	}
	token2, id2, _, _ := NewOperatorToken()
	if token2 == token || id2 == id {
		t.Fatal("two tokens are equal")
	}
}

func TestParseOperatorTokenRejects(t *testing.T) {
	good, _, _, err := NewOperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"",
		"cnop_",
		good[:len(good)-1],
		good + "A",
		"cnxx_" + good[5:],
		strings.Replace(good, ".", "-", 1),
		"cnop_0123456789ABCDEF." + good[22:], // uppercase id
		"cnop_0123456789abcdeg." + good[22:], // not hex
		good[:22] + strings.Repeat("+", 43),  // not base64url
		good[:22] + strings.Repeat("=", 43),
	}
	for _, s := range bad {
		if _, _, err := ParseOperatorToken(s); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("ParseOperatorToken(%q) = %v, want ErrMalformedToken", s, err)
		}
	}
}
