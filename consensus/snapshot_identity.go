package consensus

import "fmt"

// restoreIdentity loads the identity lists of a snapshot into fresh, a
// state being built by restore, checking that every reference resolves.
func restoreIdentity(fresh *State, d *snapshotData) error {
	for _, k := range d.APIKeys {
		t, ok := fresh.tenants[k.Tenant]
		if !ok {
			return fmt.Errorf("api key %q: unknown tenant %q", k.ID, k.Tenant)
		}
		if _, ok := t.projects[k.ProjectID]; k.ProjectID != "" && !ok {
			return fmt.Errorf("api key %q: unknown project %q", k.ID, k.ProjectID)
		}
		if _, dup := fresh.keyTenant[k.ID]; dup {
			return fmt.Errorf("duplicate api key %q", k.ID)
		}
		if ValidateRole(k.Role) != nil || len(k.SecretSHA256) != secretHashLen {
			return fmt.Errorf("api key %q: malformed", k.ID)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		k.ExpiresAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.LastUsedAt)
		t.keys[k.ID] = k
		fresh.keyTenant[k.ID] = k.Tenant
	}
	active := 0
	for _, k := range d.SigningKeys {
		if _, dup := fresh.signing[k.KID]; dup || k.KID == "" {
			return fmt.Errorf("duplicate or empty signing key %q", k.KID)
		}
		if len(k.PrivateKey) != ed25519SeedLen {
			return fmt.Errorf("signing key %q: malformed", k.KID)
		}
		if k.RetiredAt == nil {
			active++
		}
		k.CreatedAt, k.RetiredAt = k.CreatedAt.UTC(), utcPtr(k.RetiredAt)
		fresh.signing[k.KID] = k
	}
	if active > 1 {
		return fmt.Errorf("%d active signing keys, want at most 1", active)
	}
	for _, r := range d.SessionRevocations {
		t, ok := fresh.tenants[r.Tenant]
		if !ok {
			return fmt.Errorf("session revocation %q: unknown tenant %q", r.SessionID, r.Tenant)
		}
		if _, dup := t.sessions[r.SessionID]; dup {
			return fmt.Errorf("duplicate session revocation %q", r.SessionID)
		}
		r.RevokedAt, r.ExpiresAt = r.RevokedAt.UTC(), r.ExpiresAt.UTC()
		t.sessions[r.SessionID] = r
	}
	for _, r := range d.PlayerRevocations {
		t, ok := fresh.tenants[r.Tenant]
		if !ok {
			return fmt.Errorf("player revocation %q: unknown tenant %q", r.PlayerID, r.Tenant)
		}
		key := playerScope{player: r.PlayerID, project: r.ProjectID}
		if _, dup := t.players[key]; dup {
			return fmt.Errorf("duplicate player revocation %q/%q", r.PlayerID, r.ProjectID)
		}
		r.RevokedAt, r.ExpiresAt = r.RevokedAt.UTC(), r.ExpiresAt.UTC()
		t.players[key] = r
	}
	return nil
}
