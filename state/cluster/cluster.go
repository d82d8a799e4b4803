// Package cluster owns the secrets that admit nodes to the mesh: the
// replicated gossip keyring (rotated as Consul's keyring is) and join
// tokens. Only the SHA-256 of a join token's secret is stored; gossip
// keys are stored as they are, because every node must install them.
//
// It must not install keys into memberlist or check join proofs (package
// node and pki do) and must not touch HTTP or Raft.
package cluster

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Limits and keyring actions (UpdateGossipKeyring.action), as Consul's.
const (
	MaxGossipKeys  = 8
	MaxJoinTokens  = 100
	KeyringInstall = "install"
	KeyringUse     = "use"
	KeyringRemove  = "remove"
	secretHashLen  = 32
)

// JoinToken is the replicated record of a join token.
type JoinToken struct {
	ID           string     `json:"id"`
	SecretSHA256 []byte     `json:"secret_sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// GossipKeyID names a gossip key without revealing it: the first 8 bytes
// of its SHA-256, in hex.
func GossipKeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// JoinTokenID is the ID of the join token whose secret hashes to sum.
func JoinTokenID(sum []byte) string { return hex.EncodeToString(sum[:8]) }

// Store is the cluster module. Read accessors are safe for concurrent use
// and never block Apply.
type Store struct {
	cur atomic.Pointer[data]
}

type data struct {
	gossipKeys [][]byte               // primary first; never written through
	joinTokens table.Table[JoinToken] // by ID
}

// New returns an empty cluster module.
func New() *Store {
	s := &Store{}
	s.cur.Store(&data{})
	return s
}

var _ consensus.Module = (*Store)(nil)

// Name implements consensus.Module.
func (s *Store) Name() string { return "cluster" }

type write struct {
	s          *Store
	gossipKeys [][]byte
	joinTokens *table.Txn[JoinToken]
}

func (w *write) Commit() {
	w.s.cur.Store(&data{gossipKeys: w.gossipKeys, joinTokens: w.joinTokens.Commit()})
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending {
		d := s.cur.Load()
		return &write{s: s, gossipKeys: d.gossipKeys, joinTokens: d.joinTokens.Txn()}
	}).(*write)
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.UpdateGossipKeyring]{Validate: validateKeyring, Apply: s.updateKeyring})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateJoinToken]{Validate: validateCreateJoinToken, Apply: s.createJoinToken})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokeJoinToken]{Validate: validateRevokeJoinToken, Apply: s.revokeJoinToken})
}

func validateKeyring(op *cassnetv1.UpdateGossipKeyring) error {
	switch op.GetAction() {
	case KeyringInstall, KeyringUse, KeyringRemove:
	default:
		return consensus.NewError(consensus.ErrInvalid, "action: must be install, use or remove")
	}
	if n := len(op.GetKey()); n != 16 && n != 24 && n != 32 {
		return consensus.NewError(consensus.ErrInvalid, "key: must be 16, 24 or 32 bytes, got %d", n)
	}
	return nil
}

func validateCreateJoinToken(op *cassnetv1.CreateJoinToken) error {
	if len(op.GetSecretSha256()) != secretHashLen {
		return consensus.NewError(consensus.ErrInvalid, "secret_sha256: must be %d bytes", secretHashLen)
	}
	if op.GetId() != JoinTokenID(op.GetSecretSha256()) {
		return consensus.NewError(consensus.ErrInvalid, "id: must be the first 8 bytes of secret_sha256, hex")
	}
	return consensus.NonNegative("expires_unix", op.GetExpiresUnix())
}

func validateRevokeJoinToken(op *cassnetv1.RevokeJoinToken) error {
	if id := op.GetId(); len(id) != 16 {
		return consensus.NewError(consensus.ErrInvalid, "id: must be 16 hex characters")
	}
	if _, err := hex.DecodeString(op.GetId()); err != nil {
		return consensus.NewError(consensus.ErrInvalid, "id: must be 16 hex characters")
	}
	return nil
}

// updateKeyring applies one rotation step. Install is idempotent; use and
// remove need an installed key; the primary cannot be removed.
func (s *Store) updateKeyring(tx *consensus.Tx, op *cassnetv1.UpdateGossipKeyring) error {
	w := s.write(tx)
	key := op.GetKey()
	i := slices.IndexFunc(w.gossipKeys, func(k []byte) bool { return bytes.Equal(k, key) })
	switch op.GetAction() {
	case KeyringInstall:
		if i < 0 {
			if len(w.gossipKeys) >= MaxGossipKeys {
				return consensus.NewError(consensus.ErrConflict, "at most %d gossip keys may be installed", MaxGossipKeys)
			}
			w.gossipKeys = append(slices.Clone(w.gossipKeys), bytes.Clone(key))
		}
	case KeyringUse:
		if i < 0 {
			return consensus.NewError(consensus.ErrNotFound, "gossip key %s is not installed", GossipKeyID(key))
		}
		ks := make([][]byte, 0, len(w.gossipKeys))
		ks = append(ks, w.gossipKeys[i])
		for j, k := range w.gossipKeys {
			if j != i {
				ks = append(ks, k)
			}
		}
		w.gossipKeys = ks
	case KeyringRemove:
		if i < 0 {
			return consensus.NewError(consensus.ErrNotFound, "gossip key %s is not installed", GossipKeyID(key))
		}
		if i == 0 {
			return consensus.NewError(consensus.ErrConflict, "gossip key %s is the primary: use another key first", GossipKeyID(key))
		}
		w.gossipKeys = slices.Delete(slices.Clone(w.gossipKeys), i, i+1)
	}
	tx.Emit(consensus.Event{Action: "gossip_keyring." + op.GetAction(), Target: GossipKeyID(key)})
	return nil
}

func (s *Store) createJoinToken(tx *consensus.Tx, op *cassnetv1.CreateJoinToken) error {
	w := s.write(tx)
	id := op.GetId()
	if _, ok := w.joinTokens.Get(id); ok {
		return consensus.NewError(consensus.ErrConflict, "join token %q already exists", id)
	}
	n := 0
	w.joinTokens.Walk("", func(string, JoinToken) bool { n++; return n < MaxJoinTokens })
	if n >= MaxJoinTokens {
		return consensus.NewError(consensus.ErrConflict, "at most %d join tokens may exist: revoke some", MaxJoinTokens)
	}
	exp, err := consensus.ExpiresAt(op.GetExpiresUnix(), tx.Time)
	if err != nil {
		return err
	}
	w.joinTokens.Put(id, JoinToken{ID: id, SecretSHA256: slices.Clone(op.GetSecretSha256()), CreatedAt: tx.Time, ExpiresAt: exp})
	tx.Emit(consensus.Event{Action: "join_token.create", Target: id})
	return nil
}

func (s *Store) revokeJoinToken(tx *consensus.Tx, op *cassnetv1.RevokeJoinToken) error {
	w := s.write(tx)
	if !w.joinTokens.Delete(op.GetId()) {
		return consensus.NewError(consensus.ErrNotFound, "join token %q does not exist", op.GetId())
	}
	tx.Emit(consensus.Event{Action: "join_token.revoke", Target: op.GetId()})
	return nil
}

// GossipKeys returns a copy of the replicated gossip keyring, primary
// first. It is empty until the bootstrap node seeds it.
func (s *Store) GossipKeys() [][]byte {
	keys := s.cur.Load().gossipKeys
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = bytes.Clone(k)
	}
	return out
}

// JoinTokens returns every join token, sorted by CreatedAt then ID.
func (s *Store) JoinTokens() []JoinToken {
	out := s.cur.Load().joinTokens.Values("")
	slices.SortFunc(out, func(a, b JoinToken) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	for i := range out {
		out[i].SecretSHA256 = slices.Clone(out[i].SecretSHA256)
		out[i].ExpiresAt = consensus.UTC(out[i].ExpiresAt)
	}
	return out
}

// JoinSecretHashes returns the secret hashes of the join tokens valid at
// at (not expired; revoked tokens are deleted).
func (s *Store) JoinSecretHashes(at time.Time) [][]byte {
	var out [][]byte
	s.cur.Load().joinTokens.Walk("", func(_ string, t JoinToken) bool {
		if t.ExpiresAt == nil || at.Before(*t.ExpiresAt) {
			out = append(out, slices.Clone(t.SecretSHA256))
		}
		return true
	})
	return out
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) Hash(e *consensus.HashEncoder) {
	e.Section("gossip_keys", len(c.d.gossipKeys))
	for _, k := range c.d.gossipKeys {
		e.Bytes(k)
	}
	e.Section("join_tokens", c.d.joinTokens.Len())
	c.d.joinTokens.Walk("", func(_ string, t JoinToken) bool {
		e.Str(t.ID)
		e.Bytes(t.SecretSHA256)
		e.Time(t.CreatedAt)
		e.OptTime(t.ExpiresAt)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	keys := c.d.gossipKeys
	if keys == nil {
		keys = [][]byte{}
	}
	return consensus.FirstError(
		consensus.WriteList(w, "gossip_keys", keys),
		consensus.WriteList(w, "join_tokens", c.d.joinTokens.Values("")))
}

func (c section) Counts() map[string]int {
	return map[string]int{"gossip_keys": len(c.d.gossipKeys), "join_tokens": c.d.joinTokens.Len()}
}

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var (
		keys   [][]byte
		tokens []JoinToken
	)
	if err := consensus.FirstError(src.Decode("gossip_keys", &keys), src.Decode("join_tokens", &tokens)); err != nil {
		return err
	}
	if len(keys) > MaxGossipKeys {
		return fmt.Errorf("gossip keyring: %d keys", len(keys))
	}
	for _, k := range keys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("gossip keyring: key of %d bytes", n)
		}
	}
	w := tx.Stage(s, func() consensus.Pending {
		return &write{s: s, joinTokens: table.Table[JoinToken]{}.Txn()}
	}).(*write)
	w.gossipKeys = keys
	for _, t := range tokens {
		if _, dup := w.joinTokens.Get(t.ID); dup || len(t.SecretSHA256) != secretHashLen {
			return fmt.Errorf("join token %q: duplicate or malformed", t.ID)
		}
		t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), consensus.UTC(t.ExpiresAt)
		w.joinTokens.Put(t.ID, t)
	}
	return nil
}
