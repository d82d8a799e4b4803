package identity

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Store is the identity module. Its read accessors are safe for
// concurrent use and never block Apply.
type Store struct {
	tenancy  *tenancy.Store
	settings *settings.Store
	cur      atomic.Pointer[data]
}

// data is one immutable version.
type data struct {
	keys      table.Table[APIKey]            // by Key(tenant, id)
	keyTenant table.Table[string]            // key ID -> tenant
	signing   table.Table[SigningKey]        // by KID
	sessions  table.Table[SessionRevocation] // by Key(tenant, session)
	players   table.Table[PlayerRevocation]  // by Key(tenant, player, project)
	// Derived (rebuilt on restore, never hashed): per-tenant counts for
	// the limits, and the expiry index for pruning.
	keyCount table.Table[int] // tenant -> keys
	revCount table.Table[int] // tenant -> session + player revocations
	expires  table.Expiry     // kind+Sep+table key
}

// Expiry index kinds.
const (
	kindKey     = "k"
	kindSession = "s"
	kindPlayer  = "p"
)

// New returns an empty identity module that checks tenants and projects in
// ten and reads the session TTL from set.
func New(ten *tenancy.Store, set *settings.Store) *Store {
	s := &Store{tenancy: ten, settings: set}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module        = (*Store)(nil)
	_ consensus.TenantDropper = (*Store)(nil)
	_ consensus.Pruner        = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "identity" }

type write struct {
	s         *Store
	keys      *table.Txn[APIKey]
	keyTenant *table.Txn[string]
	signing   *table.Txn[SigningKey]
	sessions  *table.Txn[SessionRevocation]
	players   *table.Txn[PlayerRevocation]
	keyCount  *table.Txn[int]
	revCount  *table.Txn[int]
	expires   table.ExpiryTxn
}

func (w *write) Commit() {
	w.s.cur.Store(&data{
		keys: w.keys.Commit(), keyTenant: w.keyTenant.Commit(), signing: w.signing.Commit(),
		sessions: w.sessions.Commit(), players: w.players.Commit(),
		keyCount: w.keyCount.Commit(), revCount: w.revCount.Commit(), expires: w.expires.Commit(),
	})
}

func (s *Store) begin(d *data) *write {
	return &write{
		s: s, keys: d.keys.Txn(), keyTenant: d.keyTenant.Txn(), signing: d.signing.Txn(),
		sessions: d.sessions.Txn(), players: d.players.Txn(),
		keyCount: d.keyCount.Txn(), revCount: d.revCount.Txn(), expires: d.expires.Txn(),
	}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func bump(t *table.Txn[int], tenant string, by int) {
	n, _ := t.Get(tenant)
	if n += by; n <= 0 {
		t.Delete(tenant)
	} else {
		t.Put(tenant, n)
	}
}

func count(t *table.Txn[int], tenant string) int { n, _ := t.Get(tenant); return n }

func (w *write) putKey(k APIKey) {
	key := table.Key(k.Tenant, k.ID)
	if _, ok := w.keys.Get(key); !ok {
		bump(w.keyCount, k.Tenant, 1)
	}
	w.keys.Put(key, k)
	w.keyTenant.Put(k.ID, k.Tenant)
	if k.ExpiresAt != nil {
		w.expires.Add(*k.ExpiresAt, kindKey+table.Sep+key)
	}
}

func (w *write) deleteKey(tenant, id string) {
	if w.keys.Delete(table.Key(tenant, id)) {
		bump(w.keyCount, tenant, -1)
	}
	w.keyTenant.Delete(id)
}

func (w *write) putSession(r SessionRevocation) {
	key := table.Key(r.Tenant, r.SessionID)
	if _, ok := w.sessions.Get(key); !ok {
		bump(w.revCount, r.Tenant, 1)
	}
	w.sessions.Put(key, r)
	w.expires.Add(r.ExpiresAt, kindSession+table.Sep+key)
}

func (w *write) putPlayer(r PlayerRevocation) {
	key := table.Key(r.Tenant, r.PlayerID, r.ProjectID)
	if _, ok := w.players.Get(key); !ok {
		bump(w.revCount, r.Tenant, 1)
	}
	w.players.Put(key, r)
	w.expires.Add(r.ExpiresAt, kindPlayer+table.Sep+key)
}

// activeSigning is the key with no RetiredAt.
func activeSigning(r table.Reader[SigningKey]) (SigningKey, bool) {
	var out SigningKey
	found := false
	r.Walk("", func(_ string, k SigningKey) bool {
		if k.RetiredAt == nil {
			out, found = k, true
		}
		return !found
	})
	return out, found
}

// DropTenant implements consensus.TenantDropper: the tenant's keys and
// revocations go with it. Expiry entries left behind are skipped when due.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	prefix := table.Prefix(tenant)
	var ids []string
	w.keys.Walk(prefix, func(_ string, k APIKey) bool { ids = append(ids, k.ID); return true })
	for _, id := range ids {
		w.keyTenant.Delete(id)
	}
	w.keys.DeletePrefix(prefix)
	w.sessions.DeletePrefix(prefix)
	w.players.DeletePrefix(prefix)
	w.keyCount.Delete(tenant)
	w.revCount.Delete(tenant)
}

// Prune implements consensus.Pruner: expired keys, revocations whose
// tokens have expired, and retired signing keys whose last token has
// expired are deleted, with the leader's time.
func (s *Store) Prune(tx *consensus.Tx) {
	at := tx.Time
	ttl := s.settings.InTx(tx).MaxSessionTTL()
	var signing table.Reader[SigningKey] = s.cur.Load().signing
	w, staged := tx.Staged(s).(*write)
	if staged {
		signing = w.signing
	}
	var retired []string
	signing.Walk("", func(kid string, k SigningKey) bool {
		if k.RetiredAt != nil && !k.RetiredAt.Add(ttl).After(at) {
			retired = append(retired, kid)
		}
		return true
	})
	due := len(retired) > 0 || staged && w.expires.AnyDue(at) || !staged && s.cur.Load().expires.AnyDue(at)
	if !due {
		return
	}
	w = s.write(tx)
	for _, kid := range retired {
		w.signing.Delete(kid)
	}
	for _, id := range w.expires.Due(at) {
		kind, key, _ := strings.Cut(id, table.Sep)
		switch kind {
		case kindKey:
			if k, ok := w.keys.Get(key); ok && expired(k.ExpiresAt, at) {
				w.deleteKey(k.Tenant, k.ID)
			}
		case kindSession:
			if r, ok := w.sessions.Get(key); ok && expired(&r.ExpiresAt, at) {
				w.sessions.Delete(key)
				bump(w.revCount, r.Tenant, -1)
			}
		case kindPlayer:
			if r, ok := w.players.Get(key); ok && expired(&r.ExpiresAt, at) {
				w.players.Delete(key)
				bump(w.revCount, r.Tenant, -1)
			}
		}
	}
}

func expired(exp *time.Time, at time.Time) bool { return exp != nil && !exp.After(at) }
