package ugc

import (
	"fmt"
	"slices"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Settings returns a project's effective UGC settings (the defaults when
// none were put).
func (s *Store) Settings(tenant, project string) Settings {
	if st, ok := s.cur.Load().settings.Get(table.Key(tenant, project)); ok {
		c := st.Effective()
		c.AllowedContentTypes = slices.Clone(c.AllowedContentTypes)
		return c
	}
	return Settings{Tenant: tenant, Project: project}.Effective()
}

// Item returns one item.
func (s *Store) Item(tenant, project, id string) (Item, bool) {
	it, ok := s.cur.Load().items.Get(itemKey(tenant, project, id))
	if !ok {
		return Item{}, false
	}
	return *it.clone(), true
}

// Version returns one version of an item.
func (s *Store) Version(tenant, project, item, id string) (Version, bool) {
	v, ok := s.cur.Load().versions.Get(table.Key(tenant, project, item, id))
	if !ok {
		return Version{}, false
	}
	return *v, true
}

// Versions returns an item's versions, newest first.
func (s *Store) Versions(tenant, project, item string) []Version {
	var out []Version
	s.cur.Load().versions.Each(table.Prefix(tenant, project, item), func(v *Version) bool { out = append(out, *v); return true })
	slices.SortFunc(out, func(a, b Version) int { return int(int64(b.Seq) - int64(a.Seq)) })
	return out
}

// Reports returns the reports kept for an item.
func (s *Store) Reports(tenant, project, item string) []Report {
	var out []Report
	s.cur.Load().reports.Each(table.Prefix(tenant, project, item), func(r *Report) bool { out = append(out, *r); return true })
	return out
}

// Usage returns what a project holds, and what owner holds in it.
func (s *Store) Usage(tenant, project, owner string) (proj, own Usage) {
	d := s.cur.Load()
	p, _ := d.usage.Get(table.Key(tenant, project))
	o, _ := d.usage.Get(ownerUsageKey(tenant, project, owner))
	return p, o
}

// Blobs returns the recorded blobs of a project with sha256 (referenced
// or not), so an upload of the same bytes can reuse one.
func (s *Store) Blobs(tenant, project, sha256 string) []Blob {
	var out []Blob
	s.cur.Load().blobs.Each(table.Prefix(tenant, project, sha256), func(b *Blob) bool { out = append(out, *b); return true })
	return out
}

// Garbage returns up to limit unreferenced blobs held by holder (a node
// name, or whatever the store records as the holder), for its collector.
func (s *Store) Garbage(holder string, limit int) []Blob {
	d := s.cur.Load()
	var out []Blob
	d.garbage.Walk(table.Prefix(holder), func(k string, _ struct{}) bool {
		// The key is holder, tenant, project, sha256, store.
		var parts [5]string
		rest := k
		for i := range parts {
			j := indexSep(rest)
			if j < 0 {
				parts[i] = rest
				break
			}
			parts[i], rest = rest[:j], rest[j+1:]
		}
		if b, ok := d.blobs.Get(table.Key(parts[1], parts[2], parts[3], parts[4], parts[0])); ok {
			out = append(out, *b)
		}
		return len(out) < limit
	})
	return out
}

func indexSep(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == table.Sep[0] {
			return i
		}
	}
	return -1
}

// Secret returns the cluster's UGC URL signing secret, nil until one is
// set. The caller must not change it.
func (s *Store) Secret() []byte { return s.cur.Load().secret }

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) empty() bool {
	return c.d.settings.Len() == 0 && c.d.items.Len() == 0 && c.d.versions.Len() == 0 &&
		c.d.blobs.Len() == 0 && c.d.reports.Len() == 0 && c.d.secret == nil
}

// Hash writes nothing while the module is empty (a module added after the
// first release), then settings, items, versions, blobs and reports, each
// in key order.
func (c section) Hash(e *consensus.HashEncoder) {
	if c.empty() {
		return
	}
	e.Section("ugc_secret", len(c.d.secret))
	e.Bytes(c.d.secret)
	e.Section("ugc_settings", c.d.settings.Len())
	c.d.settings.Each("", func(st *Settings) bool {
		e.Str(st.Tenant)
		e.Str(st.Project)
		e.Str(st.Store)
		e.U64(uint64(st.MaxTotalBytes))
		e.U64(uint64(st.MaxBytesPerPlayer))
		e.U64(uint64(st.MaxItemsPerPlayer))
		e.U64(uint64(st.MaxFileSize))
		e.U64(uint64(st.VersionsPerItem))
		hashList(e, st.AllowedContentTypes)
		e.Str(st.Moderation)
		e.U64(uint64(st.UploadTTLSeconds))
		e.Time(st.UpdatedAt)
		return true
	})
	e.Section("ugc_items", c.d.items.Len())
	c.d.items.Each("", func(it *Item) bool {
		e.Str(it.Tenant)
		e.Str(it.Project)
		e.Str(it.ID)
		e.Str(it.Owner)
		e.Str(it.Title)
		e.Str(it.Description)
		hashList(e, it.Tags)
		keys := make([]string, 0, len(it.Metadata))
		for k := range it.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.U64(uint64(len(keys)))
		for _, k := range keys {
			e.Str(k)
			e.Str(it.Metadata[k])
		}
		e.Str(it.Visibility)
		e.Str(it.State)
		e.Str(it.Reason)
		e.Str(it.LiveVersion)
		e.U64(it.Downloads)
		e.U64(it.Reports)
		e.U64(it.NextSeq)
		e.Time(it.CreatedAt)
		e.Time(it.UpdatedAt)
		return true
	})
	e.Section("ugc_versions", c.d.versions.Len())
	c.d.versions.Each("", func(v *Version) bool {
		for _, s := range []string{v.Tenant, v.Project, v.Item, v.ID, v.Owner, v.Filename, v.SHA256, v.ContentType, v.State, v.Reason, v.Store, v.Holder} {
			e.Str(s)
		}
		e.U64(v.Seq)
		e.U64(uint64(v.Size))
		e.Time(v.ExpiresAt)
		e.Time(v.CreatedAt)
		e.OptTime(v.PublishedAt)
		return true
	})
	e.Section("ugc_blobs", c.d.blobs.Len())
	c.d.blobs.Each("", func(b *Blob) bool {
		for _, s := range []string{b.Tenant, b.Project, b.SHA256, b.Store, b.Holder} {
			e.Str(s)
		}
		e.U64(uint64(b.Size))
		e.U64(uint64(b.Refs))
		if b.Collecting {
			e.U64(1)
		} else {
			e.U64(0)
		}
		e.Time(b.UpdatedAt)
		return true
	})
	e.Section("ugc_reports", c.d.reports.Len())
	c.d.reports.Each("", func(r *Report) bool {
		for _, s := range []string{r.Tenant, r.Project, r.Item, r.ID, r.Reporter, r.Reason} {
			e.Str(s)
		}
		e.Time(r.CreatedAt)
		return true
	})
}

func hashList(e *consensus.HashEncoder, l []string) {
	e.U64(uint64(len(l)))
	for _, s := range l {
		e.Str(s)
	}
}

func (c section) Write(w *consensus.SectionWriter) error {
	if c.empty() {
		return nil
	}
	if err := w.Value("ugc_secret", c.d.secret); err != nil {
		return err
	}
	return consensus.FirstError(
		consensus.WriteList(w, "ugc_settings", c.d.settings.Values("")),
		consensus.WriteList(w, "ugc_items", c.d.items.Values("")),
		consensus.WriteList(w, "ugc_versions", c.d.versions.Values("")),
		consensus.WriteList(w, "ugc_blobs", c.d.blobs.Values("")),
		consensus.WriteList(w, "ugc_reports", c.d.reports.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{"settings": c.d.settings.Len(), "items": c.d.items.Len(), "versions": c.d.versions.Len(),
		"blobs": c.d.blobs.Len(), "reports": c.d.reports.Len(), "postings": c.d.postings.Len()}
}

// Restore implements consensus.Module. Usage, the expiry index, the
// garbage index and the search postings are rebuilt from the records.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		sets    []*Settings
		items   []*Item
		vers    []*Version
		blobs   []*Blob
		reports []*Report
		secret  []byte
	)
	if err := consensus.FirstError(src.Decode("ugc_settings", &sets), src.Decode("ugc_items", &items),
		src.Decode("ugc_versions", &vers), src.Decode("ugc_blobs", &blobs), src.Decode("ugc_reports", &reports), src.Decode("ugc_secret", &secret)); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	if len(secret) != 0 {
		w.secret = secret
	}
	for _, st := range sets {
		if err := s.tenancy.CheckTenantProject(tx, st.Tenant, st.Project); err != nil {
			return fmt.Errorf("ugc settings: %w", err)
		}
		st.UpdatedAt = st.UpdatedAt.UTC()
		w.settings.Put(table.Key(st.Tenant, st.Project), st)
	}
	for _, it := range items {
		if err := s.tenancy.CheckTenantProject(tx, it.Tenant, it.Project); err != nil {
			return fmt.Errorf("ugc item %q: %w", it.ID, err)
		}
		if _, dup := w.items.Get(itemKey(it.Tenant, it.Project, it.ID)); dup {
			return fmt.Errorf("ugc item %q: duplicate", it.ID)
		}
		it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
		w.putItem(nil, it)
	}
	// Blobs first, with their counts as recorded; versions then go in
	// without touching the counts.
	for _, b := range blobs {
		b.UpdatedAt = b.UpdatedAt.UTC()
		w.blobs.Put(blobKey(b), b)
		if b.Refs == 0 {
			w.garbage.Put(garbageKey(b), struct{}{})
		}
	}
	for _, v := range vers {
		if _, ok := w.items.Get(itemKey(v.Tenant, v.Project, v.Item)); !ok {
			return fmt.Errorf("ugc version %q: unknown item %q", v.ID, v.Item)
		}
		v.ExpiresAt, v.CreatedAt, v.PublishedAt = v.ExpiresAt.UTC(), v.CreatedAt.UTC(), consensus.UTC(v.PublishedAt)
		if v.counts() {
			w.addUsage(v.Tenant, v.Project, v.Owner, v.Size, 0)
		}
		if v.State == VersionPending {
			w.pending.Add(v.ExpiresAt, versionKey(v))
		}
		w.versions.Put(versionKey(v), v)
	}
	for _, r := range reports {
		r.CreatedAt = r.CreatedAt.UTC()
		w.reports.Put(table.Key(r.Tenant, r.Project, r.Item, r.ID), r)
	}
	return nil
}
