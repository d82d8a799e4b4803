// Package operators owns operator tokens: the cluster-scoped bearer
// credentials of the people who run the cluster (tenant API keys belong to
// package identity). Only the SHA-256 of a token's secret is replicated.
// Expired tokens are pruned inside Apply with the leader's time, and the
// last token that still authenticates can never be revoked.
//
// It must not check secrets itself (api does, in constant time) and must
// not touch HTTP or Raft.
package operators

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
)

// Token is the replicated record of an operator bearer token.
type Token struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	SecretSHA256 []byte     `json:"secret_sha256"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// ActiveAt reports whether the token authenticates at t (not expired).
func (t *Token) ActiveAt(at time.Time) bool {
	return t.ExpiresAt == nil || at.Before(*t.ExpiresAt)
}

// Limits.
const (
	// MaxTokens bounds the operator tokens.
	MaxTokens     = 1000
	maxTokenName  = 128
	secretHashLen = 32
)

// Store is the operators module. Read accessors are safe for concurrent
// use and never block Apply.
type Store struct {
	cur atomic.Pointer[data]
}

type data struct {
	tokens  table.Table[Token] // by ID
	expires table.Expiry       // derived
}

// New returns an empty operators module.
func New() *Store {
	s := &Store{}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module = (*Store)(nil)
	_ consensus.Pruner = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "operators" }

type write struct {
	s       *Store
	tokens  *table.Txn[Token]
	expires table.ExpiryTxn
}

func (w *write) Commit() {
	w.s.cur.Store(&data{tokens: w.tokens.Commit(), expires: w.expires.Commit()})
}

func (s *Store) begin(d *data) *write {
	return &write{s: s, tokens: d.tokens.Txn(), expires: d.expires.Txn()}
}

func (s *Store) write(tx *consensus.Tx) *write {
	return tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
}

func (w *write) put(t Token) {
	w.tokens.Put(t.ID, t)
	if t.ExpiresAt != nil {
		w.expires.Add(*t.ExpiresAt, t.ID)
	}
}

// Register implements consensus.Module.
func (s *Store) Register(r *consensus.Router) {
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.CreateOperatorToken]{Validate: validateCreate, Apply: s.create})
	consensus.Handle(r, s, consensus.Handler[*cassnetv1.RevokeOperatorToken]{
		Validate: func(op *cassnetv1.RevokeOperatorToken) error { return consensus.ValidateKeyID("id", op.GetId()) },
		Apply:    s.revoke,
	})
}

func validateCreate(tok *cassnetv1.CreateOperatorToken) error {
	if err := consensus.FirstError(consensus.ValidateName("id", tok.GetId()), consensus.ValidateText("name", tok.GetName(), maxTokenName)); err != nil {
		return err
	}
	if n := len(tok.GetSecretSha256()); n != secretHashLen {
		return consensus.NewError(consensus.ErrInvalid, "secret_sha256: must be %d bytes, got %d", secretHashLen, n)
	}
	return consensus.NonNegative("expires_unix", tok.GetExpiresUnix())
}

func (s *Store) create(tx *consensus.Tx, op *cassnetv1.CreateOperatorToken) error {
	w := s.write(tx)
	id := op.GetId()
	if _, ok := w.tokens.Get(id); ok {
		return consensus.NewError(consensus.ErrConflict, "operator token %q already exists", id)
	}
	n := 0
	w.tokens.Walk("", func(string, Token) bool { n++; return n < MaxTokens })
	if n >= MaxTokens {
		return consensus.NewError(consensus.ErrConflict, "at most %d operator tokens may exist", MaxTokens)
	}
	exp, err := consensus.ExpiresAt(op.GetExpiresUnix(), tx.Time)
	if err != nil {
		return err
	}
	w.put(Token{ID: id, Name: op.GetName(), SecretSHA256: slices.Clone(op.GetSecretSha256()), CreatedAt: tx.Time, ExpiresAt: exp})
	tx.Emit(consensus.Event{Action: "operator_token.create", Target: id})
	return nil
}

// revoke deletes a token. The last token that still authenticates cannot
// be revoked: that would lock every operator out.
func (s *Store) revoke(tx *consensus.Tx, op *cassnetv1.RevokeOperatorToken) error {
	w := s.write(tx)
	id := op.GetId()
	if _, ok := w.tokens.Get(id); !ok {
		return consensus.NewError(consensus.ErrNotFound, "operator token %q", id)
	}
	others := 0
	w.tokens.Walk("", func(oid string, t Token) bool {
		if oid != id && t.ActiveAt(tx.Time) {
			others++
		}
		return others == 0
	})
	if others == 0 {
		return consensus.NewError(consensus.ErrConflict, "the last operator token cannot be revoked; create another first")
	}
	w.tokens.Delete(id)
	tx.Emit(consensus.Event{Action: "operator_token.revoke", Target: id})
	return nil
}

// Prune implements consensus.Pruner: expired tokens are deleted.
func (s *Store) Prune(tx *consensus.Tx) {
	if w, ok := tx.Staged(s).(*write); ok && !w.expires.AnyDue(tx.Time) || !ok && !s.cur.Load().expires.AnyDue(tx.Time) {
		return
	}
	w := s.write(tx)
	for _, id := range w.expires.Due(tx.Time) {
		if t, ok := w.tokens.Get(id); ok && t.ExpiresAt != nil && !t.ExpiresAt.After(tx.Time) {
			w.tokens.Delete(id)
		}
	}
}

func clone(t Token) Token {
	t.SecretSHA256 = slices.Clone(t.SecretSHA256)
	t.ExpiresAt = consensus.UTC(t.ExpiresAt)
	return t
}

// Token returns the operator token with the given ID.
func (s *Store) Token(id string) (Token, bool) {
	t, ok := s.cur.Load().tokens.Get(id)
	if !ok {
		return Token{}, false
	}
	return clone(t), true
}

// Tokens returns every operator token, sorted by CreatedAt then ID.
func (s *Store) Tokens() []Token {
	out := s.cur.Load().tokens.Values("")
	for i := range out {
		out[i] = clone(out[i])
	}
	slices.SortFunc(out, func(a, b Token) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return out
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

// Hash writes the tokens by ID, secret hashes included.
func (c section) Hash(e *consensus.HashEncoder) {
	e.Section("operator_tokens", c.d.tokens.Len())
	c.d.tokens.Walk("", func(_ string, t Token) bool {
		e.Str(t.ID)
		e.Str(t.Name)
		e.Bytes(t.SecretSHA256)
		e.Time(t.CreatedAt)
		e.OptTime(t.ExpiresAt)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	return consensus.WriteList(w, "operator_tokens", c.d.tokens.Values(""))
}

func (c section) Counts() map[string]int { return map[string]int{"operator_tokens": c.d.tokens.Len()} }

// Restore implements consensus.Module.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var list []Token
	if err := src.Decode("operator_tokens", &list); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	for _, t := range list {
		if _, dup := w.tokens.Get(t.ID); dup {
			return fmt.Errorf("duplicate operator token %q", t.ID)
		}
		t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), consensus.UTC(t.ExpiresAt)
		w.put(t)
	}
	return nil
}
