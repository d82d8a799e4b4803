package bans

import (
	"cmp"
	"encoding/binary"
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
	var views []view
	add := func(v view) {
		if f.ActiveAt == nil || v.activeAt(*f.ActiveAt) {
			views = append(views, v)
		}
	}
	if f.PlayerID != "" {
		list, _ := d.byPlayer.Get(table.Key(tenant, f.PlayerID))
		each(list, func(_ record, v view) { add(v) })
	} else {
		d.bans.Each(table.Prefix(tenant), func(rec record) bool { add(rec.decode()); return true })
	}
	slices.SortFunc(views, func(a, b view) int { return compare(&a, &b) })
	out := make([]Ban, len(views))
	for i := range views {
		out[i] = views[i].ban()
	}
	return out, nil
}

// Ban returns one ban of a tenant.
func (s *Store) Ban(tenant, id string) (Ban, bool) {
	rec, ok := s.cur.Load().bans.Get(table.Key(tenant, id))
	if !ok {
		return Ban{}, false
	}
	v := rec.decode()
	return v.ban(), true
}

// ActiveBan reports whether the player is banned at now from the tenant's
// project projectID (or from the tenant as a whole when projectID is "").
// A tenant-wide ban always counts; a project ban counts only for its
// project. When several bans apply it returns the one that lasts longest
// (permanent first), ties broken by CreatedAt then ID, so every node gives
// the same answer. It costs one index lookup plus O(bans of that player),
// and allocates only for the ban it returns.
func (s *Store) ActiveBan(tenant, playerID, projectID string, now time.Time) (Ban, bool) {
	list, _ := s.cur.Load().byPlayer.Get(table.Key(tenant, playerID))
	// Most bans are told apart by their heads; only a tie on the expiry
	// needs the rest of the records (CreatedAt and ID), and the best so
	// far is decoded at most once.
	var best view
	var bestTail string
	found, decoded := false, false
	for list != "" {
		h, tail, rest, ok := nextHead(list)
		if !ok {
			panic("bans: corrupt stored record list")
		}
		list = rest
		if h.project != "" && h.project != projectID || !h.activeAt(now) {
			continue
		}
		if !found {
			best.head, bestTail, found = h, tail, true
			continue
		}
		switch endsLater(&h, &best.head) {
		case 1:
			best.head, bestTail, decoded = h, tail, false
		case 0:
			if !decoded {
				best = mustFull(&best.head, bestTail)
				decoded = true
			}
			if v := mustFull(&h, tail); compare(&v, &best) < 0 {
				best = v
			}
		}
	}
	if !found {
		return Ban{}, false
	}
	if !decoded {
		best = mustFull(&best.head, bestTail)
	}
	return best.ban(), true
}

// endsLater is 1 if a ends after b (never is latest), -1 if before, and
// 0 if they end at once.
func endsLater(a, b *head) int {
	switch {
	case !a.hasExpires && !b.hasExpires:
		return 0
	case !a.hasExpires:
		return 1
	case !b.hasExpires:
		return -1
	}
	return a.expires.Compare(b.expires)
}

func mustFull(h *head, tail string) view {
	v, ok := h.full(tail)
	if !ok {
		panic("bans: corrupt stored record")
	}
	return v
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

// sorted returns every ban's record by tenant, CreatedAt and ID: the order
// of the hash and the snapshot. The table is in tenant and ID order, so
// each tenant's run is sorted here; a snapshot or a hash is rare beside
// the writes that a third index, in this order, would slow down.
func (c section) sorted() []record {
	// The sort moves keys without pointers, so the collector neither
	// scans them nor is started as often by them. A tie in CreatedAt is
	// broken by the ID's first eight bytes, and only a tie in those too
	// decodes the records.
	type sortKey struct {
		sec  int64
		idp  uint64 // the ID's first 8 bytes, big-endian, zero-padded
		nsec int32
		i    int32 // into recs
	}
	n := c.d.bans.Len()
	recs := make([]record, 0, n)
	keys := make([]sortKey, 0, n)
	run, tenant := 0, ""
	flush := func() {
		slices.SortFunc(keys[run:], func(a, b sortKey) int {
			if c := cmp.Or(cmp.Compare(a.sec, b.sec), cmp.Compare(a.nsec, b.nsec), cmp.Compare(a.idp, b.idp)); c != 0 {
				return c
			}
			return cmp.Compare(recs[a.i].decode().id, recs[b.i].decode().id)
		})
		run = len(keys)
	}
	c.d.bans.Each("", func(rec record) bool {
		v := rec.decode()
		if v.tenant != tenant {
			flush()
			tenant = v.tenant
		}
		keys = append(keys, sortKey{sec: v.created.Unix(), nsec: int32(v.created.Nanosecond()), idp: idPrefix(v.id), i: int32(len(recs))})
		recs = append(recs, rec)
		return true
	})
	flush()
	out := make([]record, len(keys))
	for j, k := range keys {
		out[j] = recs[k.i]
	}
	return out
}

// idPrefix orders as the ID's first eight bytes do: big-endian, and a
// shorter ID padded with zero bytes (which sort first, as a prefix does).
func idPrefix(id string) uint64 {
	var p [8]byte
	copy(p[:], id)
	return binary.BigEndian.Uint64(p[:])
}

func (c section) Hash(e *consensus.HashEncoder) {
	list := c.sorted()
	e.Section("bans", len(list))
	for _, rec := range list {
		b := rec.decode()
		e.Str(b.id)
		e.Str(b.tenant)
		e.Str(b.project)
		e.Str(b.player)
		e.Str(b.reason)
		e.Str(b.createdBy)
		e.Time(b.created)
		optTime(e, b.hasExpires, b.expires)
		optTime(e, b.hasRevoked, b.revoked)
		e.Str(b.revokedBy)
	}
}

// optTime hashes an optional time as Ban's *time.Time fields hash.
func optTime(e *consensus.HashEncoder, has bool, t time.Time) {
	if has {
		e.OptTime(&t)
	} else {
		e.OptTime(nil)
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
