// Package identity owns tenant API keys, the Ed25519 keys that sign player
// sessions, and session revocations: their replicated records, commands,
// pruning and read accessors. Every node checks a key or a session
// locally, without a hop, against this state. Only SHA-256 hashes of
// secrets are stored; the signing seed is replicated on purpose so that
// any node can sign (docs/security.md).
//
// It must not check secrets or verify tokens itself (api and session do)
// and must not touch HTTP or Raft. Operator tokens are package operators.
package identity

import "time"

// Roles an API key can carry. Operators are not keys: they hold operator
// tokens and may do everything.
const (
	// RoleTenantAdmin manages its tenant's projects, bans, keys and
	// sessions.
	RoleTenantAdmin = "tenant-admin"
	// RoleGameServer creates and verifies player sessions and checks bans
	// in its tenant, optionally in one project only.
	RoleGameServer = "game-server"
	// RoleReadOnly reads its tenant's data.
	RoleReadOnly = "read-only"
	// RoleMatchmaker allocates game servers and reads servers and
	// allocations in its tenant, optionally in one project only, and
	// nothing else. It needs state version 2.
	RoleMatchmaker = "matchmaker"
)

// APIKey is the replicated record of a tenant API key. Only the SHA-256 of
// its secret is stored; the key string is shown to its creator once.
type APIKey struct {
	ID           string     `json:"id"`
	Tenant       string     `json:"tenant"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	ProjectID    string     `json:"project_id,omitempty"`
	SecretSHA256 []byte     `json:"secret_sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	CreatedBy    string     `json:"created_by"`
	ExpiresAt    *time.Time `json:"expires_at"`
	// LastUsedAt is coalesced: nodes report uses at most once a minute
	// (TouchAPIKeys), so it can lag by that much.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// ActiveAt reports whether the key authenticates at t (not expired).
func (k *APIKey) ActiveAt(t time.Time) bool {
	return k.ExpiresAt == nil || t.Before(*k.ExpiresAt)
}

// SigningKey is an Ed25519 key that signs player session tokens. Exactly
// one key is active (RetiredAt nil) once the first has been created;
// retired keys keep verifying until every token they can have signed has
// expired (RetiredAt + the maximum session TTL), then they are pruned.
type SigningKey struct {
	KID string `json:"kid"`
	// PrivateKey is the 32-byte Ed25519 seed.
	PrivateKey []byte     `json:"private_key"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	RetiredAt  *time.Time `json:"retired_at"`
}

// SessionRevocation revokes one player session until ExpiresAt, by when
// the token has expired anyway and the revocation is pruned.
type SessionRevocation struct {
	Tenant    string    `json:"tenant"`
	SessionID string    `json:"session_id"`
	RevokedAt time.Time `json:"revoked_at"`
	RevokedBy string    `json:"revoked_by"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PlayerRevocation revokes every session of a player issued at or before
// RevokedAt (to the second), in one project or, with ProjectID empty, in
// the whole tenant. It is pruned at ExpiresAt.
type PlayerRevocation struct {
	Tenant    string    `json:"tenant"`
	PlayerID  string    `json:"player_id"`
	ProjectID string    `json:"project_id,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
	RevokedBy string    `json:"revoked_by"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Limits on identity state, so that no tenant can grow the replicated
// state without bound.
const (
	// MaxKeysPerTenant bounds a tenant's API keys.
	MaxKeysPerTenant = 1000
	// MaxRevocationsPerTenant bounds a tenant's unexpired revocations
	// (sessions and players together).
	MaxRevocationsPerTenant = 100_000
	// MaxTouchEntries bounds a TouchAPIKeys command.
	MaxTouchEntries = 10_000
	// MaxAuthFailureEntries bounds a RecordAuthFailures command.
	MaxAuthFailureEntries = 256

	ed25519SeedLen = 32
	secretHashLen  = 32
	maxKeyName     = 128
	maxNodeNameLen = 128
)
