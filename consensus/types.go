package consensus

import "time"

// Tenant is a studio. Its name is its identifier.
type Tenant struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Project is a game title inside a tenant. Its name is its identifier
// within the tenant.
type Project struct {
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Ban keeps a player out of a tenant, or out of one project of it.
type Ban struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	ProjectID string     `json:"project_id,omitempty"`
	PlayerID  string     `json:"player_id"`
	Reason    string     `json:"reason"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// ActiveAt reports whether the ban is in force at t: not revoked, and not
// expired.
func (b *Ban) ActiveAt(t time.Time) bool {
	if b.RevokedAt != nil {
		return false
	}
	return b.ExpiresAt == nil || t.Before(*b.ExpiresAt)
}

// AuditEntry records one applied mutation.
type AuditEntry struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Tenant string    `json:"tenant,omitempty"`
	Target string    `json:"target"`
	// Detail is extra context some actions carry, such as the count and
	// node of aggregated authentication failures. Never a secret.
	Detail string `json:"detail,omitempty"`
}

// OperatorToken is the replicated record of an operator bearer token. Only
// the SHA-256 of its secret is stored.
type OperatorToken struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	SecretSHA256 []byte     `json:"secret_sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// ActiveAt reports whether the token authenticates at t (not expired).
func (t *OperatorToken) ActiveAt(at time.Time) bool {
	return t.ExpiresAt == nil || at.Before(*t.ExpiresAt)
}

// Settings are cluster-wide knobs that must be identical on every node, so
// they live in the replicated state rather than in flags.
type Settings struct {
	AuditRetention uint32 `json:"audit_retention"`
	// MaxSessionTTLSeconds is the longest lifetime of a player session
	// token. It also bounds how long session revocations and retired
	// signing keys are kept.
	MaxSessionTTLSeconds uint32 `json:"max_session_ttl_seconds"`
}

// MaxSessionTTL is MaxSessionTTLSeconds as a duration.
func (s Settings) MaxSessionTTL() time.Duration {
	return time.Duration(s.MaxSessionTTLSeconds) * time.Second
}

// Defaults used until a SetSettings command says otherwise.
const (
	DefaultAuditRetention       = 10000
	DefaultMaxSessionTTLSeconds = 24 * 3600
)

// BanFilter selects bans in State.Bans.
type BanFilter struct {
	// PlayerID, if set, keeps only that player's bans.
	PlayerID string
	// ActiveAt, if set, keeps only bans active at that time.
	ActiveAt *time.Time
}
