package consensus

import "time"

// Tx is the transaction of one log entry (or of one snapshot restore)
// across every module. Handlers read through it and stage their changes
// in it; the FSM commits every staged change together after the whole
// entry has been applied, or drops them all if a handler failed. A Tx is
// used only on the FSM's apply goroutine and must not be retained.
type Tx struct {
	// Index is the Raft index of the entry (of the snapshot, on restore).
	Index uint64
	// Time is the leader's time stamped in the command: the only clock a
	// handler may use. It is the zero time during a restore.
	Time time.Time
	// Actor is who proposed the command ("operator:<id>", "apikey:<id>").
	Actor string

	fsm    *FSM
	staged []staged
	events []Event
}

// Pending is a module's staged change inside a Tx.
type Pending interface {
	// Commit publishes the change to readers. It is called once, on the
	// apply goroutine, after every handler of the entry has succeeded.
	Commit()
}

type staged struct {
	owner   Module
	pending Pending
}

// Stage returns owner's pending change in this transaction, calling begin
// to start one the first time. Modules use it to find their own write set
// and to let other modules read through their uncommitted changes.
func (tx *Tx) Stage(owner Module, begin func() Pending) Pending {
	for _, s := range tx.staged {
		if s.owner == owner {
			return s.pending
		}
	}
	p := begin()
	tx.staged = append(tx.staged, staged{owner: owner, pending: p})
	return p
}

// Staged returns owner's pending change, or nil if it has staged none. A
// module reading its state inside Apply uses the pending change when
// there is one and its committed state otherwise.
func (tx *Tx) Staged(owner Module) Pending {
	for _, s := range tx.staged {
		if s.owner == owner {
			return s.pending
		}
	}
	return nil
}

// Emit records an accepted change for the EventSinks (the audit log). An
// empty Actor becomes the command's actor.
func (tx *Tx) Emit(e Event) {
	if e.Actor == "" {
		e.Actor = tx.Actor
	}
	tx.events = append(tx.events, e)
}

// DropTenant tells every TenantDropper that tenant is being deleted in
// this entry. The module that owns tenants calls it from its delete
// handler.
func (tx *Tx) DropTenant(tenant string) {
	for _, m := range tx.fsm.modules {
		if d, ok := m.(TenantDropper); ok {
			d.DropTenant(tx, tenant)
		}
	}
}

// StateVersion is the cluster's replicated state version (see
// engine.go): features that old nodes cannot apply identically are gated
// on it.
func (tx *Tx) StateVersion() uint32 { return tx.fsm.engine.version(tx) }

func (tx *Tx) commit() {
	for _, s := range tx.staged {
		s.pending.Commit()
	}
}
