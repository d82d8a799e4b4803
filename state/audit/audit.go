// Package audit owns the audit log: one entry for every accepted change,
// written in the same log entry as the change itself. It is a
// consensus.EventSink: every module emits events through its Tx, and this
// module turns them into entries, keeping the newest settings'
// audit_retention of them.
//
// It must not decide what is audited (the module that owns a command
// does) and must not touch HTTP or Raft.
package audit

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/table"
)

// Entry records one applied mutation.
type Entry struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Tenant string    `json:"tenant,omitempty"`
	Target string    `json:"target"`
	// Detail is extra context some actions carry, such as the count and
	// node of aggregated authentication failures. Never a secret.
	Detail string `json:"detail,omitempty"`
}

// Store is the audit module. Entries is safe for concurrent use and never
// blocks Apply.
type Store struct {
	settings *settings.Store
	cur      atomic.Pointer[data]
}

// data is one version: the retained entries, oldest first.
type data struct {
	entries table.Log[Entry]
}

// New returns an empty audit log trimmed to set's audit retention.
func New(set *settings.Store) *Store {
	s := &Store{settings: set}
	s.cur.Store(&data{})
	return s
}

var (
	_ consensus.Module    = (*Store)(nil)
	_ consensus.EventSink = (*Store)(nil)
)

// Name implements consensus.Module.
func (s *Store) Name() string { return "audit" }

// Register implements consensus.Module: the audit log has no commands of
// its own.
func (s *Store) Register(*consensus.Router) {}

type write struct {
	s       *Store
	entries table.Log[Entry]
}

func (w *write) Commit() { w.s.cur.Store(&data{entries: w.entries}) }

func (s *Store) begin(d *data) *write { return &write{s: s, entries: d.entries} }

// append adds e and drops the oldest entries beyond retention.
func (w *write) append(e Entry, retention uint32) {
	w.entries = w.entries.Append(e).TrimTo(int(retention))
}

// Consume implements consensus.EventSink.
func (s *Store) Consume(tx *consensus.Tx, events []consensus.Event) {
	if !slices.ContainsFunc(events, func(e consensus.Event) bool { return !e.Operational }) {
		return
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(s.cur.Load()) }).(*write)
	retention := s.settings.InTx(tx).AuditRetention
	for _, e := range events {
		if e.Operational {
			continue
		}
		w.append(Entry{Index: tx.Index, Time: tx.Time, Actor: e.Actor, Action: e.Action,
			Tenant: e.Tenant, Target: e.Target, Detail: e.Detail}, retention)
	}
}

// Entries returns up to limit entries, newest first, for one tenant or,
// when tenant is "", for all. A limit <= 0 means every retained entry.
func (s *Store) Entries(tenant string, limit int) []Entry {
	var out []Entry
	s.cur.Load().entries.EachReverse(func(e Entry) bool {
		if limit > 0 && len(out) >= limit {
			return false
		}
		if tenant == "" || e.Tenant == tenant {
			out = append(out, e)
		}
		return true
	})
	return out
}

// Snapshot implements consensus.Module.
func (s *Store) Snapshot() consensus.Section { return section{s.cur.Load()} }

type section struct{ d *data }

func (c section) Hash(e *consensus.HashEncoder) {
	e.Section("audit", c.d.entries.Len())
	c.d.entries.Each(func(a Entry) bool {
		e.U64(a.Index)
		e.Time(a.Time)
		e.Str(a.Actor)
		e.Str(a.Action)
		e.Str(a.Tenant)
		e.Str(a.Target)
		e.Str(a.Detail)
		return true
	})
}

func (c section) Write(w *consensus.SectionWriter) error {
	list := make([]Entry, 0, c.d.entries.Len())
	c.d.entries.Each(func(e Entry) bool { list = append(list, e); return true })
	return consensus.WriteList(w, "audit", list)
}

func (c section) Counts() map[string]int { return map[string]int{"audit": c.d.entries.Len()} }

// Restore implements consensus.Module. It runs after the settings module,
// so the restored retention applies.
func (s *Store) Restore(tx *consensus.Tx, src consensus.SectionSource) error {
	var list []Entry
	if err := src.Decode("audit", &list); err != nil {
		return err
	}
	w := tx.Stage(s, func() consensus.Pending { return s.begin(&data{}) }).(*write)
	retention := s.settings.InTx(tx).AuditRetention
	for _, e := range list {
		e.Time = e.Time.UTC()
		w.append(e, retention)
	}
	return nil
}
