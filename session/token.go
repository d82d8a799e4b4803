package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Fixed claims of every session token.
const (
	// Issuer is the "iss" claim.
	Issuer = "cassnet"
	// Audience is the "aud" claim.
	Audience = "cassnet-session"
	// MaxTokenLen bounds what Verify will look at; real tokens are about
	// 400 bytes.
	MaxTokenLen = 4096
)

// Session is what a token asserts.
type Session struct {
	ID        string    // "sid" claim
	PlayerID  string    // "sub" claim
	Tenant    string    // "tenant" claim
	Project   string    // "project" claim, empty for a tenant-wide session
	IssuedAt  time.Time // "iat" claim, to the second
	ExpiresAt time.Time // "exp" claim, to the second
}

// claims is the JWT claim set.
type claims struct {
	Tenant  string `json:"tenant"`
	Project string `json:"project,omitempty"`
	SID     string `json:"sid"`
	jwt.RegisteredClaims
}

// Validate implements jwt.ClaimsValidator: the claims CassandraNet needs
// beyond the registered ones must be present.
func (c *claims) Validate() error {
	if c.Subject == "" || c.Tenant == "" || c.SID == "" || c.IssuedAt == nil {
		return errors.New("missing sub, tenant, sid or iat")
	}
	return nil
}

// NewSessionID returns a fresh session ID: "ses_" and 32 lowercase hex
// digits (128 random bits).
func NewSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new session id: %w", err)
	}
	return "ses_" + hex.EncodeToString(b[:]), nil
}

// NewKey generates a signing key: a kid ("sk_" and 16 hex digits) and the
// 32-byte Ed25519 seed that the replicated state stores.
func NewKey() (kid string, seed []byte, err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("new signing key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("new signing key: %w", err)
	}
	return "sk_" + hex.EncodeToString(b[:]), slices.Clone(priv.Seed()), nil
}

// Key is a signing key ready to use.
type Key struct {
	KID     string
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// KeyFromSeed derives a Key from a replicated seed.
func KeyFromSeed(kid string, seed []byte) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("signing key %q: seed must be %d bytes", kid, ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return Key{KID: kid, Private: priv, Public: priv.Public().(ed25519.PublicKey)}, nil
}

// Sign issues a token for s, signed by k, with k's kid in the header.
// Times are truncated to the second, as JWT NumericDates are.
func Sign(k Key, s Session) (string, error) {
	c := &claims{
		Tenant: s.Tenant, Project: s.Project, SID: s.ID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   s.PlayerID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(s.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(s.ExpiresAt),
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.KID
	out, err := tok.SignedString(k.Private)
	if err != nil {
		return "", fmt.Errorf("sign session: %w", err)
	}
	return out, nil
}
