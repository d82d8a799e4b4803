// Package bans owns player bans: their replicated records, the commands
// that create and revoke them, the index a ban check reads, pruning of
// ended bans after the retention setting, and the read accessors.
//
// A ban check (ActiveBan) is on the path of every session verification:
// it reads one immutable index entry through an atomic pointer, takes no
// lock and never waits for Apply. The package must not know how bans are
// requested (HTTP, gRPC) and must not touch Raft.
package bans

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/tenancy"
)

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

// Filter selects bans in Store.Bans.
type Filter struct {
	// PlayerID, if set, keeps only that player's bans.
	PlayerID string
	// ActiveAt, if set, keeps only bans active at that time.
	ActiveAt *time.Time
}

// Limits on ban commands.
const (
	// MaxDuration is the longest finite ban a CreateBan may ask for.
	MaxDuration  = 100 * 365 * 24 * time.Hour
	maxReasonLen = 512
)

// Store is the bans module. Its read accessors are safe for concurrent use
// and never block Apply.
type Store struct {
	tenancy  *tenancy.Store
	settings *settings.Store
	cur      atomic.Pointer[data]
}

// data is one immutable version. Records are never changed once stored:
// a revocation stores a new one.
type data struct {
	bans table.Table[record] // by Key(tenant, id)
	// byPlayer holds, by Key(tenant, player), the records of that
	// player's bans concatenated in apply order: the record itself while
	// the player has one ban.
	byPlayer table.Table[string]
	// ended indexes bans by when they ended, for pruning. It is derived:
	// rebuilt on restore, never hashed or written.
	ended table.Expiry
}

// New returns an empty bans module that checks tenants and projects in
// ten and reads the ban retention from set.
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
func (s *Store) Name() string { return "bans" }

type write struct {
	s        *Store
	bans     *table.Txn[record]
	byPlayer *table.Txn[string]
	ended    table.ExpiryTxn
}

func (w *write) Commit() {
	w.s.cur.Store(&data{bans: w.bans.Commit(), byPlayer: w.byPlayer.Commit(), ended: w.ended.Commit()})
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, bans: d.bans.Txn(), byPlayer: d.byPlayer.Txn(), ended: d.ended.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

// add stores the ban b and indexes it.
func (w *write) add(b *Ban) {
	rec := encode(b)
	key := table.Key(b.Tenant, b.ID)
	w.bans.Put(key, rec)
	pk := table.Key(b.Tenant, b.PlayerID)
	if list, ok := w.byPlayer.Get(pk); ok {
		w.byPlayer.Put(pk, list+string(rec))
	} else {
		w.byPlayer.Put(pk, string(rec))
	}
	w.indexEnd(key, rec)
}

// indexEnd adds the ban at key to the ended index if its record says it
// has stopped, or will stop, being in force.
func (w *write) indexEnd(key string, rec record) {
	h := rec.head()
	if end, ok := h.endedAt(); ok {
		w.ended.Add(end, key)
	}
}

// replace stores b in place of old (same tenant, id and player).
func (w *write) replace(old *view, b *Ban) {
	rec := encode(b)
	key := table.Key(b.Tenant, b.ID)
	w.bans.Put(key, rec)
	w.setPlayerList(b.Tenant, b.PlayerID, b.ID, rec)
	if end, ok := old.endedAt(); ok {
		w.ended.Remove(end, key)
	}
	w.indexEnd(key, rec)
}

// remove drops the ban at key.
func (w *write) remove(key string) {
	rec, ok := w.bans.Get(key)
	if !ok {
		return
	}
	v := rec.decode()
	w.bans.Delete(key)
	w.setPlayerList(v.tenant, v.player, v.id, "")
}

// setPlayerList replaces ban id in the player's list with rec, or drops
// it when rec is empty. A list left with one ban shares that ban's record.
func (w *write) setPlayerList(tenant, player, id string, rec record) {
	pk := table.Key(tenant, player)
	list, _ := w.byPlayer.Get(pk)
	var kept []record
	each(list, func(r record, v view) {
		switch {
		case v.id != id:
			kept = append(kept, r)
		case rec != "":
			kept = append(kept, rec)
		}
	})
	switch len(kept) {
	case 0:
		w.byPlayer.Delete(pk)
	case 1:
		// The bans table's copy, not a piece of the old list, which would
		// keep all of it alive.
		v := kept[0].decode()
		only, _ := w.bans.Get(table.Key(tenant, v.id))
		w.byPlayer.Put(pk, string(only))
	default:
		var sb strings.Builder
		sb.Grow(len(list) + len(rec))
		for _, r := range kept {
			sb.WriteString(string(r))
		}
		w.byPlayer.Put(pk, sb.String())
	}
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateBan]{Validate: validateCreate, Apply: s.create})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokeBan]{
		Validate: func(op *cassnetv1.RevokeBan) error {
			return consensus.FirstError(consensus.ValidateName("tenant", op.GetTenant()), ValidateID(op.GetId()))
		},
		Apply: s.revoke,
	})
}

// ValidateReason checks a ban reason: at most 512 bytes of valid UTF-8
// with no control characters. An empty reason is allowed.
func ValidateReason(s string) error { return consensus.ValidateText("reason", s, maxReasonLen) }

// ValidateID checks a ban identifier. It accepts what
// consensus.ValidateName accepts, which includes every identifier NewID
// generates.
func ValidateID(s string) error { return consensus.ValidateName("id", s) }

// NewID returns a fresh random ban identifier: "ban_" followed by 16
// lowercase hex digits from crypto/rand.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new ban id: %w", err)
	}
	return "ban_" + hex.EncodeToString(b[:]), nil
}

func validateCreate(b *cassnetv1.CreateBan) error {
	err := consensus.FirstError(
		ValidateID(b.GetId()),
		consensus.ValidateName("tenant", b.GetTenant()),
		consensus.ValidatePlayerID(b.GetPlayerId()),
		ValidateReason(b.GetReason()))
	if err != nil {
		return err
	}
	if p := b.GetProject(); p != "" {
		if err := consensus.ValidateName("project", p); err != nil {
			return err
		}
	}
	if d := b.GetDurationSeconds(); d < 0 || d > int64(MaxDuration/time.Second) {
		return consensus.NewError(consensus.ErrInvalid, "duration_seconds: must be between 0 (permanent) and %d", int64(MaxDuration/time.Second))
	}
	return nil
}

func (s *Store) create(tx *consensus.Tx, op *cassnetv1.CreateBan) error {
	if err := s.tenancy.CheckTenantProject(tx, op.GetTenant(), op.GetProject()); err != nil {
		return err
	}
	w := s.write(tx)
	if _, ok := w.bans.Get(table.Key(op.GetTenant(), op.GetId())); ok {
		return consensus.NewError(consensus.ErrConflict, "ban %q already exists in tenant %q", op.GetId(), op.GetTenant())
	}
	b := &Ban{
		ID: op.GetId(), Tenant: op.GetTenant(), ProjectID: op.GetProject(), PlayerID: op.GetPlayerId(),
		Reason: op.GetReason(), CreatedBy: tx.Actor, CreatedAt: tx.Time,
	}
	if d := op.GetDurationSeconds(); d > 0 {
		exp := tx.Time.Add(time.Duration(d) * time.Second)
		b.ExpiresAt = &exp
	}
	w.add(b)
	data := map[string]string{"ban_id": b.ID, "player_id": b.PlayerID, "project_id": b.ProjectID, "reason": b.Reason, "expires_at": ""}
	if b.ExpiresAt != nil {
		data["expires_at"] = b.ExpiresAt.Format(time.RFC3339)
	}
	tx.Emit(consensus.Event{Action: "ban.create", Tenant: op.GetTenant(), Target: op.GetId(), Data: data})
	return nil
}

func (s *Store) revoke(tx *consensus.Tx, op *cassnetv1.RevokeBan) error {
	w := s.write(tx)
	old, ok := w.bans.Get(table.Key(op.GetTenant(), op.GetId()))
	if !ok {
		return consensus.NewError(consensus.ErrNotFound, "ban %q in tenant %q", op.GetId(), op.GetTenant())
	}
	ov := old.decode()
	if ov.hasRevoked {
		return consensus.NewError(consensus.ErrConflict, "ban %q is already revoked", op.GetId())
	}
	b := ov.ban()
	at := tx.Time
	b.RevokedAt, b.RevokedBy = &at, tx.Actor
	w.replace(&ov, &b)
	tx.Emit(consensus.Event{Action: "ban.revoke", Tenant: op.GetTenant(), Target: op.GetId(),
		Data: map[string]string{"ban_id": b.ID, "player_id": b.PlayerID, "project_id": b.ProjectID, "revoked_by": tx.Actor}})
	return nil
}

// DropTenant implements consensus.TenantDropper. The tenant's entries in
// the derived ended index are left to expire: pruning skips bans that no
// longer exist.
func (s *Store) DropTenant(tx *consensus.Tx, tenant string) {
	w := s.write(tx)
	w.bans.DeletePrefix(table.Prefix(tenant))
	w.byPlayer.DeletePrefix(table.Prefix(tenant))
}

// Prune implements consensus.Pruner: bans that ended at least the ban
// retention before tx.Time are deleted. It starts at state version 2, so
// that nodes of the first release, which never prune bans, and nodes of
// this one hold the same bans during a rolling upgrade.
func (s *Store) Prune(tx *consensus.Tx) {
	if tx.StateVersion() < consensus.StateVersionDomains {
		return
	}
	cutoff := tx.Time.Add(-s.settings.InTx(tx).BanRetention())
	if w, ok := tx.Staged(s).(*write); ok && !w.ended.AnyDue(cutoff) || !ok && !s.cur.Load().ended.AnyDue(cutoff) {
		return
	}
	w := s.write(tx)
	for _, key := range w.ended.Due(cutoff) {
		if rec, ok := w.bans.Get(key); ok {
			v := rec.decode()
			if end, ok := v.endedAt(); ok && !end.After(cutoff) {
				w.remove(key)
			}
		}
	}
}

func compare(a, b *view) int {
	return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.id, b.id))
}
