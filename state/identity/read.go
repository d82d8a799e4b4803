package identity

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Read accessors. Each reads one immutable version and returns copies; the
// lookups the authentication path makes per request take no lock.

func cloneKey(k APIKey) APIKey {
	k.SecretSHA256 = slices.Clone(k.SecretSHA256)
	k.ExpiresAt, k.LastUsedAt = consensus.UTC(k.ExpiresAt), consensus.UTC(k.LastUsedAt)
	return k
}

func cloneSigning(k SigningKey) SigningKey {
	k.PrivateKey = slices.Clone(k.PrivateKey)
	k.RetiredAt = consensus.UTC(k.RetiredAt)
	return k
}

// APIKey returns the API key with the given ID, whatever its tenant. The
// caller checks the secret, the expiry and the tenant.
func (s *Store) APIKey(id string) (APIKey, bool) {
	d := s.cur.Load()
	tenant, ok := d.keyTenant.Get(id)
	if !ok {
		return APIKey{}, false
	}
	k, ok := d.keys.Get(table.Key(tenant, id))
	return cloneKey(k), ok
}

func compareKeys(a, b APIKey) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// APIKeys returns the tenant's keys sorted by CreatedAt then ID, or an
// error wrapping consensus.ErrNotFound if the tenant does not exist.
// Expired keys not yet pruned are included.
func (s *Store) APIKeys(tenant string) ([]APIKey, error) {
	if _, ok := s.tenancy.Tenant(tenant); !ok {
		return nil, consensus.NewError(consensus.ErrNotFound, "tenant %q", tenant)
	}
	out := s.cur.Load().keys.Values(table.Prefix(tenant))
	for i := range out {
		out[i] = cloneKey(out[i])
	}
	slices.SortFunc(out, compareKeys)
	return out, nil
}

func compareSigning(a, b SigningKey) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.KID, b.KID))
}

// SigningKey returns the signing key with the given kid, active or retired
// (until it is pruned).
func (s *Store) SigningKey(kid string) (SigningKey, bool) {
	k, ok := s.cur.Load().signing.Get(kid)
	return cloneSigning(k), ok
}

// ActiveSigningKey returns the key that signs new sessions, if one exists.
func (s *Store) ActiveSigningKey() (SigningKey, bool) {
	k, ok := activeSigning(s.cur.Load().signing)
	return cloneSigning(k), ok
}

// SigningKeys returns every key that still verifies, active and retired,
// sorted by CreatedAt then kid.
func (s *Store) SigningKeys() []SigningKey {
	out := s.cur.Load().signing.Values("")
	for i := range out {
		out[i] = cloneSigning(out[i])
	}
	slices.SortFunc(out, compareSigning)
	return out
}

// SessionRevoked reports whether a session is revoked: its ID was revoked,
// or its player's sessions were revoked, tenant-wide or in the session's
// project, at or after the second it was issued. It costs three lookups.
func (s *Store) SessionRevoked(tenant, sessionID, playerID, projectID string, issuedAt time.Time) bool {
	d := s.cur.Load()
	if _, ok := d.sessions.Get(table.Key(tenant, sessionID)); ok {
		return true
	}
	iat := issuedAt.Unix()
	if r, ok := d.players.Get(table.Key(tenant, playerID, "")); ok && iat <= r.RevokedAt.Unix() {
		return true
	}
	if projectID != "" {
		if r, ok := d.players.Get(table.Key(tenant, playerID, projectID)); ok && iat <= r.RevokedAt.Unix() {
			return true
		}
	}
	return false
}

// SessionRevocations returns the tenant's unpruned session revocations,
// sorted by session ID.
func (s *Store) SessionRevocations(tenant string) []SessionRevocation {
	return s.cur.Load().sessions.Values(table.Prefix(tenant))
}

// PlayerRevocations returns the tenant's unpruned player revocations,
// sorted by player then project.
func (s *Store) PlayerRevocations(tenant string) []PlayerRevocation {
	return s.cur.Load().players.Values(table.Prefix(tenant))
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) keysByID() []APIKey {
	out := c.d.keys.Values("")
	slices.SortFunc(out, func(a, b APIKey) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Hash writes keys by ID, signing keys by kid, and revocations by tenant
// and ID, as the first release did.
func (c section) Hash(e *consensus.HashEncoder) {
	keys := c.keysByID()
	e.Section("api_keys", len(keys))
	for _, k := range keys {
		e.Str(k.ID)
		e.Str(k.Tenant)
		e.Str(k.Name)
		e.Str(k.Role)
		e.Str(k.ProjectID)
		e.Bytes(k.SecretSHA256)
		e.Time(k.CreatedAt)
		e.Str(k.CreatedBy)
		e.OptTime(k.ExpiresAt)
		e.OptTime(k.LastUsedAt)
	}
	e.Section("signing_keys", c.d.signing.Len())
	c.d.signing.Walk("", func(_ string, k SigningKey) bool {
		e.Str(k.KID)
		e.Bytes(k.PrivateKey)
		e.Time(k.CreatedAt)
		e.Str(k.CreatedBy)
		e.OptTime(k.RetiredAt)
		return true
	})
	e.Section("session_revocations", c.d.sessions.Len())
	c.d.sessions.Walk("", func(_ string, r SessionRevocation) bool {
		e.Str(r.Tenant)
		e.Str(r.SessionID)
		e.Time(r.RevokedAt)
		e.Str(r.RevokedBy)
		e.Time(r.ExpiresAt)
		return true
	})
	e.Section("player_revocations", c.d.players.Len())
	c.d.players.Walk("", func(_ string, r PlayerRevocation) bool {
		e.Str(r.Tenant)
		e.Str(r.PlayerID)
		e.Str(r.ProjectID)
		e.Time(r.RevokedAt)
		e.Str(r.RevokedBy)
		e.Time(r.ExpiresAt)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	return consensus.FirstError(
		consensus.WriteList(w, "api_keys", c.keysByID()),
		consensus.WriteList(w, "signing_keys", c.d.signing.Values("")),
		consensus.WriteList(w, "session_revocations", c.d.sessions.Values("")),
		consensus.WriteList(w, "player_revocations", c.d.players.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{
		"api_keys": c.d.keys.Len(), "signing_keys": c.d.signing.Len(),
		"session_revocations": c.d.sessions.Len(), "player_revocations": c.d.players.Len(),
	}
}

// Restore implements consensus.Module. It runs after tenancy's and checks
// every reference against the restored tenants and projects.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		keys     []APIKey
		signing  []SigningKey
		sessions []SessionRevocation
		players  []PlayerRevocation
	)
	if err := consensus.FirstError(src.Decode("api_keys", &keys), src.Decode("signing_keys", &signing),
		src.Decode("session_revocations", &sessions), src.Decode("player_revocations", &players)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, k := range keys {
		if err := s.tenancy.CheckTenantProject(tx, k.Tenant, k.ProjectID); err != nil {
			return fmt.Errorf("api key %q: %w", k.ID, err)
		}
		if _, dup := w.keyTenant.Get(k.ID); dup {
			return fmt.Errorf("duplicate api key %q", k.ID)
		}
		if ValidateRole(k.Role) != nil || len(k.SecretSHA256) != secretHashLen {
			return fmt.Errorf("api key %q: malformed", k.ID)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		k.ExpiresAt, k.LastUsedAt = consensus.UTC(k.ExpiresAt), consensus.UTC(k.LastUsedAt)
		w.putKey(k)
	}
	active := 0
	for _, k := range signing {
		if _, dup := w.signing.Get(k.KID); dup || k.KID == "" {
			return fmt.Errorf("duplicate or empty signing key %q", k.KID)
		}
		if len(k.PrivateKey) != ed25519SeedLen {
			return fmt.Errorf("signing key %q: malformed", k.KID)
		}
		if k.RetiredAt == nil {
			active++
		}
		k.CreatedAt, k.RetiredAt = k.CreatedAt.UTC(), consensus.UTC(k.RetiredAt)
		w.signing.Put(k.KID, k)
	}
	if active > 1 {
		return fmt.Errorf("%d active signing keys, want at most 1", active)
	}
	for _, r := range sessions {
		if !s.tenancy.TenantExists(tx, r.Tenant) {
			return fmt.Errorf("session revocation %q: unknown tenant %q", r.SessionID, r.Tenant)
		}
		if _, dup := w.sessions.Get(table.Key(r.Tenant, r.SessionID)); dup {
			return fmt.Errorf("duplicate session revocation %q", r.SessionID)
		}
		r.RevokedAt, r.ExpiresAt = r.RevokedAt.UTC(), r.ExpiresAt.UTC()
		w.putSession(r)
	}
	for _, r := range players {
		if !s.tenancy.TenantExists(tx, r.Tenant) {
			return fmt.Errorf("player revocation %q: unknown tenant %q", r.PlayerID, r.Tenant)
		}
		if _, dup := w.players.Get(table.Key(r.Tenant, r.PlayerID, r.ProjectID)); dup {
			return fmt.Errorf("duplicate player revocation %q/%q", r.PlayerID, r.ProjectID)
		}
		r.RevokedAt, r.ExpiresAt = r.RevokedAt.UTC(), r.ExpiresAt.UTC()
		w.putPlayer(r)
	}
	return nil
}
