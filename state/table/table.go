// Package table is the persistent (immutable) table every domain module
// keeps its replicated state in: a thin, typed layer over
// hashicorp/go-immutable-radix, the tree Consul and Nomad's state stores
// are built on.
//
// It owns only the data structure. A committed Table never changes, so a
// module can hand it to readers through an atomic pointer and to a
// snapshot in O(1); a Txn writes a new version that shares every
// untouched node with the old one. It must not know any domain.
package table

import (
	"encoding/binary"
	"strings"
	"time"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
)

// Table is an immutable ordered map from string keys to values of T. The
// zero Table is empty and ready to use. Safe for concurrent readers.
type Table[T any] struct{ t *iradix.Tree[T] }

func (t Table[T]) tree() *iradix.Tree[T] {
	if t.t == nil {
		return iradix.New[T]()
	}
	return t.t
}

// Get returns the value at key.
func (t Table[T]) Get(key string) (T, bool) {
	if t.t == nil {
		var zero T
		return zero, false
	}
	return t.t.Get([]byte(key))
}

// Len is the number of entries.
func (t Table[T]) Len() int {
	if t.t == nil {
		return 0
	}
	return t.t.Len()
}

// Walk calls fn for every entry whose key starts with prefix, in key
// order, until fn returns false.
func (t Table[T]) Walk(prefix string, fn func(key string, v T) bool) {
	if t.t == nil {
		return
	}
	walk(t.t.Root(), prefix, fn)
}

// Each calls fn for every value under prefix, in key order, until fn
// returns false. It is Walk without the key, and allocates nothing per
// entry.
func (t Table[T]) Each(prefix string, fn func(v T) bool) {
	if t.t == nil {
		return
	}
	t.t.Root().WalkPrefix([]byte(prefix), func(_ []byte, v T) bool { return !fn(v) })
}

// Values returns the values under prefix in key order.
func (t Table[T]) Values(prefix string) []T {
	var out []T
	t.Each(prefix, func(v T) bool { out = append(out, v); return true })
	return out
}

// WalkReverse calls fn for every entry, newest key first, until fn
// returns false.
func (t Table[T]) WalkReverse(fn func(key string, v T) bool) {
	if t.t == nil {
		return
	}
	it := t.t.Root().ReverseIterator()
	for k, v, ok := it.Previous(); ok; k, v, ok = it.Previous() {
		if !fn(string(k), v) {
			return
		}
	}
}

// Txn starts a write transaction on top of t.
func (t Table[T]) Txn() *Txn[T] { return &Txn[T]{x: t.tree().Txn()} }

func walk[T any](n *iradix.Node[T], prefix string, fn func(string, T) bool) {
	n.WalkPrefix([]byte(prefix), func(k []byte, v T) bool { return !fn(string(k), v) })
}

// Txn is a write transaction: reads see its own writes. It is not safe
// for concurrent use.
type Txn[T any] struct{ x *iradix.Txn[T] }

// Get returns the value at key, including this transaction's writes.
func (x *Txn[T]) Get(key string) (T, bool) { return x.x.Get([]byte(key)) }

// Put sets key to v.
func (x *Txn[T]) Put(key string, v T) { x.x.Insert([]byte(key), v) }

// Delete removes key and reports whether it was there.
func (x *Txn[T]) Delete(key string) bool {
	_, ok := x.x.Delete([]byte(key))
	return ok
}

// DeletePrefix removes every key that starts with prefix.
func (x *Txn[T]) DeletePrefix(prefix string) { x.x.DeletePrefix([]byte(prefix)) }

// Walk calls fn for every entry under prefix, in key order, including this
// transaction's writes, until fn returns false. fn must not write to x.
func (x *Txn[T]) Walk(prefix string, fn func(key string, v T) bool) {
	walk(x.x.Root(), prefix, fn)
}

// Commit returns the new immutable version.
func (x *Txn[T]) Commit() Table[T] { return Table[T]{t: x.x.CommitOnly()} }

// Reader is what Table and Txn share: reads a module uses both on the
// committed state and inside Apply.
type Reader[T any] interface {
	Get(key string) (T, bool)
	Walk(prefix string, fn func(key string, v T) bool)
}

var (
	_ Reader[int] = Table[int]{}
	_ Reader[int] = (*Txn[int])(nil)
)

// Key joins parts with a NUL byte, which no validated identifier holds,
// so that ("a","bc") and ("ab","c") never collide and every key of a
// tenant shares the prefix Key(tenant)+Sep.
func Key(parts ...string) string { return strings.Join(parts, Sep) }

// Prefix is Key(parts...) followed by the separator: the prefix of every
// key below parts.
func Prefix(parts ...string) string { return Key(parts...) + Sep }

// Sep separates the parts of a key.
const Sep = "\x00"

// TimeKey encodes t so that keys sort in time order (big-endian Unix
// nanoseconds, as 8 raw bytes); times before 1970 sort first.
func TimeKey(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return string(b[:])
}

// ParseTimeKey is the inverse of TimeKey for the first 8 bytes of k.
func ParseTimeKey(k string) time.Time {
	if len(k) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64([]byte(k[:8])))).UTC()
}
