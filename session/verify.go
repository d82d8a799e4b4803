package session

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification outcomes. Compare with errors.Is.
var (
	// ErrInvalid: the token is malformed, its signature or algorithm is
	// wrong, its kid is unknown, or its issuer, audience or claims are.
	ErrInvalid = errors.New("session: invalid token")
	// ErrExpired: the token is authentic but its exp has passed.
	ErrExpired = errors.New("session: token expired")
)

// KeyLookup returns the public key for a kid, or false if the kid is not
// a key the caller trusts (unknown, or retired and pruned). It is called
// once per Verify and must be safe for concurrent use.
type KeyLookup func(kid string) (ed25519.PublicKey, bool)

// Verifier checks tokens cryptographically. It is safe for concurrent use.
type Verifier struct {
	parser *jwt.Parser
	lookup KeyLookup
}

// NewVerifier returns a Verifier that finds keys with lookup and decides
// expiry with now.
func NewVerifier(lookup KeyLookup, now func() time.Time) *Verifier {
	return &Verifier{
		lookup: lookup,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

var errUnknownKID = errors.New("unknown kid")

func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errUnknownKID
	}
	pub, ok := v.lookup(kid)
	if !ok {
		return nil, errUnknownKID
	}
	return pub, nil
}

// Verify checks token's algorithm, kid, signature, issuer, audience and
// claims, then its expiry. It returns the session for a valid token and,
// with ErrExpired, for an authentic expired one; otherwise ErrInvalid.
// Revocation and bans are the caller's business.
func (v *Verifier) Verify(token string) (Session, error) {
	s, _, _, err := v.verify(token)
	return s, err
}

// verify is Verify that also returns the token's kid and not-before
// time (zero if absent), for the cache.
func (v *Verifier) verify(token string) (Session, string, time.Time, error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return Session{}, "", time.Time{}, ErrInvalid
	}
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyFunc)
	switch {
	case err == nil:
		kid, _ := tok.Header["kid"].(string)
		var nbf time.Time
		if c.NotBefore != nil {
			nbf = c.NotBefore.Time
		}
		return c.session(), kid, nbf, nil
	case errors.Is(err, jwt.ErrTokenExpired) && c.authenticExceptExpiry():
		// jwt checks claims only after the signature, so the claims are
		// authentic; report expiry only if nothing else is wrong.
		return c.session(), "", time.Time{}, ErrExpired
	default:
		return Session{}, "", time.Time{}, ErrInvalid
	}
}

// authenticExceptExpiry repeats the non-time claim checks, for a token
// that failed validation with (at least) ErrTokenExpired.
func (c *claims) authenticExceptExpiry() bool {
	return c.Issuer == Issuer && slices.Contains(c.Audience, Audience) &&
		c.ExpiresAt != nil && c.Validate() == nil &&
		(c.NotBefore == nil || !c.NotBefore.After(c.ExpiresAt.Time))
}

func (c *claims) session() Session {
	s := Session{ID: c.SID, PlayerID: c.Subject, Tenant: c.Tenant, Project: c.Project}
	if c.IssuedAt != nil {
		s.IssuedAt = c.IssuedAt.UTC()
	}
	if c.ExpiresAt != nil {
		s.ExpiresAt = c.ExpiresAt.UTC()
	}
	return s
}
