package session

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"sync"
)

// keyCacheSize bounds Keyring's cache; a cluster holds a handful of keys
// (the active one and those retired within the maximum session TTL).
const keyCacheSize = 64

// Keyring caches keys derived from replicated seeds, so verifying a token
// does not re-derive the public key. The caller always passes the seed it
// just read from the state: a kid whose seed changed (it cannot, but a
// restored snapshot could in principle) is derived afresh. Safe for
// concurrent use.
type Keyring struct {
	mu    sync.RWMutex
	cache map[string]Key
}

// NewKeyring returns an empty Keyring.
func NewKeyring() *Keyring { return &Keyring{cache: make(map[string]Key)} }

// Key returns the Key for kid and seed, deriving it on first use.
func (r *Keyring) Key(kid string, seed []byte) (Key, error) {
	r.mu.RLock()
	k, ok := r.cache[kid]
	r.mu.RUnlock()
	if ok && bytes.Equal(k.Private[:ed25519.SeedSize], seed) {
		return k, nil
	}
	k, err := KeyFromSeed(kid, seed)
	if err != nil {
		return Key{}, err
	}
	r.mu.Lock()
	if len(r.cache) >= keyCacheSize {
		clear(r.cache) // pruned kids are never asked for again
	}
	r.cache[kid] = k
	r.mu.Unlock()
	return k, nil
}

// JWK is one public key in a JSON Web Key Set (RFC 8037 OKP key).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKSet is the document served at /v1/auth/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes pub as an Ed25519 signing key.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{
		Kty: "OKP", Crv: "Ed25519", Kid: kid, Use: "sig", Alg: "EdDSA",
		X: base64.RawURLEncoding.EncodeToString(pub),
	}
}
