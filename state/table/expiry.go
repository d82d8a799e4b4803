package table

import "time"

// Expiry is an index of items by the time they may be forgotten, so that
// pruning costs O(items due) rather than a sweep of every item. Entries
// map TimeKey(at)+Sep+id to id. The zero Expiry is empty.
type Expiry struct{ Table[string] }

// ExpiryTxn writes an Expiry.
type ExpiryTxn struct{ *Txn[string] }

// Txn starts a write transaction.
func (e Expiry) Txn() ExpiryTxn { return ExpiryTxn{e.Table.Txn()} }

// Commit returns the new version.
func (x ExpiryTxn) Commit() Expiry { return Expiry{x.Txn.Commit()} }

func expiryKey(at time.Time, id string) string { return TimeKey(at) + Sep + id }

// Add indexes id as due at at.
func (x ExpiryTxn) Add(at time.Time, id string) { x.Put(expiryKey(at, id), id) }

// Remove drops id's entry at at (a no-op if there is none).
func (x ExpiryTxn) Remove(at time.Time, id string) { x.Delete(expiryKey(at, id)) }

// Due removes and returns, in time order, every id due at or before at.
func (x ExpiryTxn) Due(at time.Time) []string {
	var keys, ids []string
	limit := TimeKey(at)
	x.Walk("", func(k string, id string) bool {
		if k[:8] > limit {
			return false
		}
		keys = append(keys, k)
		ids = append(ids, id)
		return true
	})
	for _, k := range keys {
		x.Delete(k)
	}
	return ids
}

// AnyDue reports whether some id is due at or before at.
func (e Expiry) AnyDue(at time.Time) bool { return anyDue(e.Table, at) }

// AnyDue reports whether some id is due at or before at, including this
// transaction's writes.
func (x ExpiryTxn) AnyDue(at time.Time) bool { return anyDue(x.Txn, at) }

func anyDue(r Reader[string], at time.Time) bool {
	due := false
	limit := TimeKey(at)
	r.Walk("", func(k string, _ string) bool { due = k[:8] <= limit; return false })
	return due
}
