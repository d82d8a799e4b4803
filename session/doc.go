// Package session issues and verifies player session tokens: EdDSA
// (Ed25519) JWTs made with golang-jwt/jwt/v5.
//
// # What it owns
//
// The token format (header, claims, issuer and audience), key generation,
// deriving usable keys from the replicated Ed25519 seeds (with a small
// cache, since deriving costs a scalar multiplication), signing, the
// cryptographic half of verification, and the JWKS document.
//
// # What it does not own
//
// Where keys live and which are valid (consensus.State holds them), and
// every decision that needs the replicated state: whether a session is
// revoked or its player banned, and which principal may verify which
// tenant's tokens. The api package makes those, so tenant isolation stays
// in its one authorisation layer.
//
// # Invariants
//
//   - Only EdDSA is accepted (jwt.WithValidMethods), so "alg":"none" and
//     HMAC-with-the-public-key confusion are rejected before any key is
//     looked up.
//   - A token is reported expired only after its signature, issuer,
//     audience and claims have been checked: an attacker cannot learn
//     anything from a forged token but "invalid".
//   - The kid must name a key the caller knows; there is no fallback key.
//   - Errors never carry the token or key material.
package session
