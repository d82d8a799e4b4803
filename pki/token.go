package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenPrefix is the version tag every join token starts with.
const TokenPrefix = "CN1"

// secretLen is the size of a join secret in bytes (hex-encoded in tokens).
const secretLen = 32

// ErrBadToken is returned for any malformed join token.
var ErrBadToken = errors.New("pki: malformed join token")

// Token is a parsed join token:
//
//	CN1::<cluster>::<CA fingerprint, 64 hex>::<secret, 64 hex>
//
// The cluster name comes first so that an operator can tell tokens apart
// by eye; the fingerprint pins the CA a joining node must see; the secret
// proves to the seed that the joiner was let in.
type Token struct {
	Cluster     string
	Fingerprint [sha256.Size]byte
	Secret      []byte
}

// NewToken returns a token with a fresh random secret.
func NewToken(cluster string, fingerprint [sha256.Size]byte) (Token, error) {
	if err := validCluster(cluster); err != nil {
		return Token{}, err
	}
	secret := make([]byte, secretLen)
	if _, err := rand.Read(secret); err != nil {
		return Token{}, fmt.Errorf("pki: token secret: %w", err)
	}
	return Token{Cluster: cluster, Fingerprint: fingerprint, Secret: secret}, nil
}

// String encodes the token. It contains the secret: never log it.
func (t Token) String() string {
	return strings.Join([]string{TokenPrefix, t.Cluster,
		hex.EncodeToString(t.Fingerprint[:]), hex.EncodeToString(t.Secret)}, "::")
}

// LogValue keeps the secret out of logs.
func (t Token) LogValue() string { return "CN1::" + t.Cluster + "::<redacted>" }

// ParseToken decodes a token produced by Token.String.
func ParseToken(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), "::")
	if len(parts) != 4 || parts[0] != TokenPrefix {
		return Token{}, ErrBadToken
	}
	var t Token
	if err := validCluster(parts[1]); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	t.Cluster = parts[1]
	fp, err := hex.DecodeString(parts[2])
	if err != nil || len(fp) != sha256.Size {
		return Token{}, fmt.Errorf("%w: bad CA fingerprint", ErrBadToken)
	}
	copy(t.Fingerprint[:], fp)
	if t.Secret, err = hex.DecodeString(parts[3]); err != nil || len(t.Secret) != secretLen {
		return Token{}, fmt.Errorf("%w: bad secret", ErrBadToken)
	}
	return t, nil
}

// validCluster accepts 1-63 characters of [a-z0-9-], not starting or
// ending with '-', so that server.<cluster>.cassnet is a valid DNS name.
func validCluster(s string) error {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Errorf("pki: cluster name %q must be 1-63 characters of a-z, 0-9 and '-'", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("pki: cluster name %q must be 1-63 characters of a-z, 0-9 and '-'", s)
		}
	}
	return nil
}

// ServerName is the DNS SAN every node certificate of cluster carries,
// and the name node-to-node TLS clients verify.
func ServerName(cluster string) string { return "server." + cluster + ".cassnet" }
