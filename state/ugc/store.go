package ugc

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Store is the UGC module. Its read accessors are safe for concurrent use
// and never block Apply.
type Store struct {
	tenancy *tenancy.Store
	cur     atomic.Pointer[data]
}

// data is one immutable version. Stored values are never changed: a
// change stores a new one.
type data struct {
	settings table.Table[*Settings] // Key(tenant, project)
	items    table.Table[*Item]     // Key(tenant, project, id)
	versions table.Table[*Version]  // Key(tenant, project, item, id)
	blobs    table.Table[*Blob]     // Key(tenant, project, sha256, store, holder)
	reports  table.Table[*Report]   // Key(tenant, project, item, id)
	secret   []byte                 // the URL signing secret; never changed in place
	// Derived (rebuilt on restore, never hashed or written):
	usage    table.Table[Usage]    // Key(tenant, project) and Key(tenant, project, "", owner)
	pending  table.Expiry          // pending versions by expiry -> version key
	garbage  table.Table[struct{}] // Key(holder, tenant, project, sha256, store): blobs with no reference
	postings table.Table[struct{}] // listKey(list number) + sortKey + id
	lists    table.Table[listInfo] // Key(tenant, project, list) -> its number and entries
	nextList uint32                // the last list number handed out (node-local, like every derived table)
}

// listInfo numbers a posting list, so that its postings' keys start with
// 4 bytes rather than the tenant, project and list names.
type listInfo struct {
	ID uint32
	N  int
}

func listKey(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return string(b[:])
}

// New returns an empty UGC module that checks tenants and projects in ten.
func New(ten *tenancy.Store) *Store {
	s := &Store{tenancy: ten}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
	_ consensus.Pruner        = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "ugc" }

type write struct {
	s        *Store
	settings *table.Txn[*Settings]
	items    *table.Txn[*Item]
	versions *table.Txn[*Version]
	blobs    *table.Txn[*Blob]
	reports  *table.Txn[*Report]
	secret   []byte
	usage    *table.Txn[Usage]
	pending  table.ExpiryTxn
	garbage  *table.Txn[struct{}]
	postings *table.Txn[struct{}]
	lists    *table.Txn[listInfo]
	nextList uint32
}

func (w *write) Commit() {
	w.s.cur.Store(&data{
		settings: w.settings.Commit(), items: w.items.Commit(), versions: w.versions.Commit(),
		blobs: w.blobs.Commit(), reports: w.reports.Commit(), secret: w.secret, usage: w.usage.Commit(),
		pending: w.pending.Commit(), garbage: w.garbage.Commit(), postings: w.postings.Commit(), lists: w.lists.Commit(), nextList: w.nextList,
	})
}

func (s *Store) begin(d *data) *write {
	return &write{
		s: s, settings: d.settings.Txn(), items: d.items.Txn(), versions: d.versions.Txn(),
		blobs: d.blobs.Txn(), reports: d.reports.Txn(), secret: d.secret, usage: d.usage.Txn(), pending: d.pending.Txn(),
		garbage: d.garbage.Txn(), postings: d.postings.Txn(), lists: d.lists.Txn(), nextList: d.nextList,
	}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func itemKey(tenant, project, id string) string { return table.Key(tenant, project, id) }
func versionKey(v *Version) string              { return table.Key(v.Tenant, v.Project, v.Item, v.ID) }
func blobKey(b *Blob) string                    { return table.Key(b.Tenant, b.Project, b.SHA256, b.Store, b.Holder) }
func garbageKey(b *Blob) string                 { return table.Key(b.Holder, b.Tenant, b.Project, b.SHA256, b.Store) }
func ownerUsageKey(tenant, project, owner string) string {
	return table.Key(tenant, project, "", owner)
}

// recentKey sorts newest first: the inverted creation time.
func recentKey(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^uint64(max(t.UnixNano(), 0)))
	return string(b[:])
}

// downloadsKey sorts most downloaded first, then newest.
func downloadsKey(n uint64, created time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^n)
	return string(b[:]) + recentKey(created)
}

// Lists an item is posted to.
const (
	listAll       = "a"
	listDownloads = "d"
)

func listWord(w string) string  { return "w:" + w }
func listTag(t string) string   { return "g:" + t }
func listOwner(o string) string { return "o:" + o }

// lists returns every list it is posted to, with its sort key there.
func postingsOf(it *Item) map[string]string {
	rk := recentKey(it.CreatedAt)
	out := map[string]string{listAll: rk, listOwner(it.Owner): rk, listDownloads: downloadsKey(it.Downloads, it.CreatedAt)}
	for _, t := range it.Tags {
		out[listTag(t)] = rk
	}
	for _, w := range Words(it.Title, it.Description, it.Tags) {
		out[listWord(w)] = rk
	}
	return out
}

func (w *write) post(it *Item, list, sortKey string, by int) {
	lk := table.Key(it.Tenant, it.Project, list)
	info, ok := w.lists.Get(lk)
	if !ok {
		if by < 0 {
			return
		}
		w.nextList++
		info.ID = w.nextList
	}
	k := listKey(info.ID) + sortKey + it.ID
	if by > 0 {
		w.postings.Put(k, struct{}{})
	} else if !w.postings.Delete(k) {
		return
	}
	if info.N += by; info.N <= 0 {
		w.lists.Delete(lk)
	} else {
		w.lists.Put(lk, info)
	}
}

// putItem stores it in place of old (nil for a new item), keeping the
// postings and usage in step.
func (w *write) putItem(old, it *Item) {
	var before map[string]string
	if old != nil {
		before = postingsOf(old)
	} else {
		w.addUsage(it.Tenant, it.Project, it.Owner, 0, 1)
	}
	after := postingsOf(it)
	for list, sk := range before {
		if after[list] != sk {
			w.post(old, list, sk, -1)
		}
	}
	for list, sk := range after {
		if before[list] != sk {
			w.post(it, list, sk, 1)
		}
	}
	w.items.Put(itemKey(it.Tenant, it.Project, it.ID), it)
}

func (w *write) removeItem(it *Item) {
	for list, sk := range postingsOf(it) {
		w.post(it, list, sk, -1)
	}
	w.addUsage(it.Tenant, it.Project, it.Owner, 0, -1)
	w.items.Delete(itemKey(it.Tenant, it.Project, it.ID))
}

func (w *write) addUsage(tenant, project, owner string, bytes int64, items int64) {
	for _, k := range []string{table.Key(tenant, project), ownerUsageKey(tenant, project, owner)} {
		u, _ := w.usage.Get(k)
		u.Bytes += bytes
		u.Items += items
		if u == (Usage{}) {
			w.usage.Delete(k)
		} else {
			w.usage.Put(k, u)
		}
	}
}

// putVersion stores v in place of old (nil for a new version), keeping
// usage, the expiry index and blob references in step.
func (w *write) putVersion(old, v *Version, at time.Time) {
	w.unindexVersion(old, at)
	if v.counts() {
		w.addUsage(v.Tenant, v.Project, v.Owner, v.Size, 0)
	}
	if v.State == VersionPending {
		w.pending.Add(v.ExpiresAt, versionKey(v))
	}
	if v.State == VersionPublished {
		w.ref(v, 1, at)
	}
	w.versions.Put(versionKey(v), v)
}

func (w *write) unindexVersion(old *Version, at time.Time) {
	if old == nil {
		return
	}
	if old.counts() {
		w.addUsage(old.Tenant, old.Project, old.Owner, -old.Size, 0)
	}
	if old.State == VersionPending {
		w.pending.Remove(old.ExpiresAt, versionKey(old))
	}
	if old.State == VersionPublished {
		w.ref(old, -1, at)
	}
}

func (w *write) removeVersion(v *Version, at time.Time) {
	w.unindexVersion(v, at)
	w.versions.Delete(versionKey(v))
}

// ref adds by to the reference count of v's blob. A blob whose count
// reaches zero stays recorded, indexed as garbage for its holder.
func (w *write) ref(v *Version, by int, at time.Time) {
	key := table.Key(v.Tenant, v.Project, v.SHA256, v.Store, v.Holder)
	old, ok := w.blobs.Get(key)
	b := &Blob{Tenant: v.Tenant, Project: v.Project, SHA256: v.SHA256, Store: v.Store, Holder: v.Holder, Size: v.Size}
	if ok {
		c := *old
		b = &c
	}
	if by < 0 && b.Refs == 0 {
		return
	}
	b.Refs = uint32(int64(b.Refs) + int64(by))
	b.UpdatedAt = at
	w.blobs.Put(key, b)
	if b.Refs == 0 {
		w.garbage.Put(garbageKey(b), struct{}{})
	} else {
		w.garbage.Delete(garbageKey(b))
	}
}

// DropTenant implements consensus.TenantDropper. Blobs of the tenant stay
// as garbage for their holders to delete.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	var items []*Item
	w.items.Walk(table.Prefix(tenant), func(_ string, it *Item) bool { items = append(items, it); return true })
	for _, it := range items {
		w.dropItem(it, tx.Time)
	}
	w.settings.DeletePrefix(table.Prefix(tenant))
}

// dropItem removes an item with its versions and reports.
func (w *write) dropItem(it *Item, at time.Time) {
	var vs []*Version
	w.versions.Walk(table.Prefix(it.Tenant, it.Project, it.ID), func(_ string, v *Version) bool { vs = append(vs, v); return true })
	for _, v := range vs {
		w.removeVersion(v, at)
	}
	w.reports.DeletePrefix(table.Prefix(it.Tenant, it.Project, it.ID))
	w.removeItem(it)
}

// Prune implements consensus.Pruner: pending versions whose upload
// expired become expired (their bytes were never published, so nothing
// references them).
func (s *Store) Prune(tx *consensus.Tx) {
	at := tx.Time
	w, staged := tx.Staged(s).(*write)
	if staged {
		if !w.pending.AnyDue(at) {
			return
		}
	} else if !s.cur.Load().pending.AnyDue(at) {
		return
	}
	w = s.write(tx)
	for _, key := range w.pending.Due(at) {
		old, ok := w.versions.Get(key)
		if !ok || old.State != VersionPending || old.ExpiresAt.After(at) {
			continue
		}
		// Due already took the expiry entry; mark it gone before putVersion.
		w.pending.Add(old.ExpiresAt, key)
		v := *old
		v.State, v.Reason = VersionExpired, "the upload was not completed before "+old.ExpiresAt.Format(time.RFC3339)
		w.putVersion(old, &v, at)
		w.trimVersions(v.Tenant, v.Project, v.Item, at)
		tx.Emit(versionEvent("ugc.version.expired", &v, true))
	}
}
