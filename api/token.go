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
)

// API keys look like "cnk_<id>.<secret>", with the same id and secret
// shapes as operator tokens. The distinct prefixes make a leaked
// credential recognisable (secret scanners can match them) and tell the
// authentication layer which table to look in.
const apiKeyPrefix = "cnk_"

// ErrMalformedToken is returned by ParseOperatorToken for a string that is
// not shaped like an operator token.
var ErrMalformedToken = errors.New("api: malformed operator token")

// ErrMalformedAPIKey is returned by ParseAPIKey for a string that is not
// shaped like an API key.
var ErrMalformedAPIKey = errors.New("api: malformed api key")

// NewOperatorToken creates a fresh operator token. token is the bearer
// credential to hand to the operator (node's bootstrap writes it to the
// admin-token file); id and secretSHA256 go into a CreateOperatorToken
// command. The secret's hash is SHA-256 of the secret's text as it appears
// in the token, which is what the API compares against.
func NewOperatorToken() (token, id string, secretSHA256 []byte, err error) {
	token, id, secretSHA256, err = newCredential(tokenPrefix)
	if err != nil {
		return "", "", nil, fmt.Errorf("new operator token: %w", err)
	}
	return token, id, secretSHA256, nil
}

// NewAPIKey creates a fresh API key: key is the credential to hand to its
// owner once; id and secretSHA256 go into a CreateAPIKey command.
func NewAPIKey() (key, id string, secretSHA256 []byte, err error) {
	key, id, secretSHA256, err = newCredential(apiKeyPrefix)
	if err != nil {
		return "", "", nil, fmt.Errorf("new api key: %w", err)
	}
	return key, id, secretSHA256, nil
}

func newCredential(prefix string) (cred, id string, secretSHA256 []byte, err error) {
	var idb [tokenIDLen / 2]byte
	var sec [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", nil, err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", "", nil, err
	}
	id = hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	sum := sha256.Sum256([]byte(secret))
	return prefix + id + "." + secret, id, sum[:], nil
}

// ParseOperatorToken splits an operator token into its id and secret. It
// checks the shape only; whether the token is valid is up to the state.
// The returned strings are substrings of s (no allocation).
func ParseOperatorToken(s string) (id, secret string, err error) {
	if id, secret, ok := parseCredential(tokenPrefix, s); ok {
		return id, secret, nil
	}
	return "", "", ErrMalformedToken
}

// ParseAPIKey splits an API key ("cnk_<16 hex id>.<43 base64url
// secret>") into its id and secret, checking the shape only. The returned
// strings are substrings of s.
func ParseAPIKey(s string) (id, secret string, err error) {
	if id, secret, ok := parseCredential(apiKeyPrefix, s); ok {
		return id, secret, nil
	}
	return "", "", ErrMalformedAPIKey
}

// parseCredential checks "<prefix><16 lowercase hex>.<43 base64url>".
func parseCredential(prefix, s string) (id, secret string, ok bool) {
	if len(s) != len(prefix)+tokenIDLen+1+tokenSecretLen || s[:len(prefix)] != prefix {
		return "", "", false
	}
	rest := s[len(prefix):]
	if rest[tokenIDLen] != '.' {
		return "", "", false
	}
	id, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", "", false
		}
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' ||
			c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", "", false
		}
	}
	return id, secret, true
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
