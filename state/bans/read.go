package bans

import (
	"fmt"
	"slices"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Read accessors. Each reads one immutable version and returns copies, so
// callers may keep and change what they get.

// Bans returns the tenant's bans that pass f, sorted by CreatedAt then ID,
// or an error wrapping consensus.ErrNotFound if the tenant does not exist.
// Revoked and expired bans are included unless f.ActiveAt is set.
func (s *Store) Bans(tenant string, f Filter) ([]Ban, error) {
	if _, ok := s.tenancy.Tenant(tenant); !ok {
		return nil, consensus.NewError(consensus.ErrNotFound, "tenant %q", tenant)
	}
	d := s.cur.Load()
	var out []Ban
	add := func(b *Ban) {
		if f.ActiveAt == nil || b.ActiveAt(*f.ActiveAt) {
			out = append(out, clone(b))
		}
	}
	if f.PlayerID != "" {
		list, _ := d.byPlayer.Get(table.Key(tenant, f.PlayerID))
		for _, b := range list {
			add(b)
		}
	} else {
		d.bans.Walk(table.Prefix(tenant), func(_ string, b *Ban) bool { add(b); return true })
	}
	slices.SortFunc(out, func(a, b Ban) int { return compare(&a, &b) })
	return out, nil
}

// Ban returns one ban of a tenant.
func (s *Store) Ban(tenant, id string) (Ban, bool) {
	b, ok := s.cur.Load().bans.Get(table.Key(tenant, id))
	if !ok {
		return Ban{}, false
	}
	return clone(b), true
}

// ActiveBan reports whether the player is banned at now from the tenant's
// project projectID (or from the tenant as a whole when projectID is "").
// A tenant-wide ban always counts; a project ban counts only for its
// project. When several bans apply it returns the one that lasts longest
// (permanent first), ties broken by CreatedAt then ID, so every node gives
// the same answer. It costs one index lookup plus O(bans of that player).
func (s *Store) ActiveBan(tenant, playerID, projectID string, now time.Time) (Ban, bool) {
	list, _ := s.cur.Load().byPlayer.Get(table.Key(tenant, playerID))
	var best *Ban
	for _, b := range list {
		if b.ProjectID != "" && b.ProjectID != projectID {
			continue
		}
		if !b.ActiveAt(now) {
			continue
		}
		if best == nil || outlasts(b, best) {
			best = b
		}
	}
	if best == nil {
		return Ban{}, false
	}
	return clone(best), true
}

// clone returns a copy of b that shares no memory with the state.
func clone(b *Ban) Ban {
	c := *b
	c.ExpiresAt = consensus.UTC(b.ExpiresAt)
	c.RevokedAt = consensus.UTC(b.RevokedAt)
	return c
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

// sorted returns every ban by tenant, CreatedAt and ID: the order of the
// hash and the snapshot.
func (c section) sorted() []*Ban {
	out := make([]*Ban, 0, c.d.bans.Len())
	c.d.ordered.Each("", func(b *Ban) bool { out = append(out, b); return true })
	return out
}

func (c section) Hash(e *consensus.HashEncoder) {
	list := c.sorted()
	e.Section("bans", len(list))
	for _, b := range list {
		e.Str(b.ID)
		e.Str(b.Tenant)
		e.Str(b.ProjectID)
		e.Str(b.PlayerID)
		e.Str(b.Reason)
		e.Str(b.CreatedBy)
		e.Time(b.CreatedAt)
		e.OptTime(b.ExpiresAt)
		e.OptTime(b.RevokedAt)
		e.Str(b.RevokedBy)
	}
}

func (c section) Write(w *consensus.SectionWriter) error {
	return consensus.WriteList(w, "bans", c.sorted())
}

func (c section) Counts() map[string]int { return map[string]int{"bans": c.d.bans.Len()} }

// Restore implements consensus.Module. It runs after tenancy's, so it can
// check every ban's tenant and project against the restored ones.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var list []Ban
	if err := src.Decode("bans", &list); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for i := range list {
		b := list[i]
		if err := s.tenancy.CheckTenantProject(tx, b.Tenant, b.ProjectID); err != nil {
			return fmt.Errorf("ban %q: %w", b.ID, err)
		}
		if _, dup := w.bans.Get(table.Key(b.Tenant, b.ID)); dup {
			return fmt.Errorf("duplicate ban %q in tenant %q", b.ID, b.Tenant)
		}
		b.CreatedAt = b.CreatedAt.UTC()
		b.ExpiresAt, b.RevokedAt = consensus.UTC(b.ExpiresAt), consensus.UTC(b.RevokedAt)
		w.add(&b)
	}
	return nil
}
