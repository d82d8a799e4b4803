package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Operator tokens look like "cnop_<id>.<secret>": id is 16 lowercase hex
// characters (8 random bytes) and names the token in the replicated state
// and the audit log; secret is 32 random bytes in unpadded base64url (43
// characters). Only SHA-256(secret) is replicated, so the state never holds
// a usable credential.
const (
	tokenPrefix    = "cnop_"
	tokenIDLen     = 16
	tokenSecretLen = 43
	tokenLen       = len(tokenPrefix) + tokenIDLen + 1 + tokenSecretLen
)

// ErrMalformedToken is returned by ParseOperatorToken for a string that is
// not shaped like an operator token.
var ErrMalformedToken = errors.New("api: malformed operator token")

// NewOperatorToken creates a fresh operator token. token is the bearer
// credential to hand to the operator (node's bootstrap writes it to the
// admin-token file); id and secretSHA256 go into a CreateOperatorToken
// command. The secret's hash is SHA-256 of the secret's text as it appears
// in the token, which is what the API compares against.
func NewOperatorToken() (token, id string, secretSHA256 []byte, err error) {
	var idb [tokenIDLen / 2]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", nil, fmt.Errorf("new operator token: %w", err)
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", "", nil, fmt.Errorf("new operator token: %w", err)
	}
	id = hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	sum := sha256.Sum256([]byte(secret))
	return tokenPrefix + id + "." + secret, id, sum[:], nil
}

// ParseOperatorToken splits an operator token into its id and secret. It
// checks the shape only; whether the token is valid is up to the state.
// The returned strings are substrings of s (no allocation).
func ParseOperatorToken(s string) (id, secret string, err error) {
	if len(s) != tokenLen || s[:len(tokenPrefix)] != tokenPrefix {
		return "", "", ErrMalformedToken
	}
	rest := s[len(tokenPrefix):]
	if rest[tokenIDLen] != '.' {
		return "", "", ErrMalformedToken
	}
	id, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", "", ErrMalformedToken
		}
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' ||
			c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", ErrMalformedToken
		}
	}
	return id, secret, nil
}

// HashSecret returns SHA-256 of a token's secret part (as returned by
// ParseOperatorToken): the value a CreateOperatorToken command carries and
// the API compares against. node uses it to seed the replicated hash from
// an existing admin-token file.
func HashSecret(secret string) []byte {
	sum := hashSecret(secret)
	return sum[:]
}

// hashSecret is HashSecret for the request path: copying the secret into
// a stack array avoids a heap allocation per authenticated request.
func hashSecret(secret string) [sha256.Size]byte {
	var b [tokenSecretLen]byte
	if len(secret) > len(b) {
		return sha256.Sum256([]byte(secret))
	}
	n := copy(b[:], secret)
	return sha256.Sum256(b[:n])
}
