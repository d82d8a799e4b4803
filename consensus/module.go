package consensus

import "encoding/json"

// Module is one domain's replicated state, plugged into the FSM: tenancy,
// bans, identity and every later domain each implement it in their own
// package. The FSM owns the log index, the change notification, the
// snapshot container and the command envelope; a module owns its types,
// its commands (registered with the Router), its state, its snapshot
// section and its read accessors.
//
// Concurrency contract:
//   - Register is called once, when the FSM is built, before any Apply.
//   - Command handlers (see Handle), and the optional TenantDropper,
//     Pruner and EventSink hooks, run only on the FSM's apply goroutine
//     (raft's FSM goroutine), one log entry at a time, never two at once.
//     They read and stage changes through the Tx they are given; nothing a
//     handler stages is visible to readers until the whole entry has been
//     applied and every staged change is committed together. A handler
//     that returns an error leaves nothing behind: its staged changes are
//     dropped.
//   - Snapshot is called on the apply goroutine between entries and must
//     return at once (in time independent of the state's size): it
//     captures the current committed, immutable version. The Section it
//     returns is hashed and encoded later on other goroutines, while Apply
//     goes on, so it must never change.
//   - Restore is called on the apply goroutine between entries. It stages
//     the module's new state in tx; the FSM commits every module together
//     only if all of them restored, so a bad snapshot changes nothing.
//   - Read accessors are the module's own business: they may be called by
//     any goroutine at any time and must never block Apply. Reading a
//     committed immutable version through an atomic pointer does that.
//     A reader may assume that once Applied().Index() >= i, every module
//     reflects every entry up to i.
type Module interface {
	// Name names the module's snapshot section. It never changes.
	Name() string
	// Register adds the module's command handlers to r.
	Register(r *Router)
	// Snapshot captures the committed state; see the contract above.
	Snapshot() Section
	// Restore replaces the module's state with the one in src, staging it
	// in tx. src holds the module's section of a snapshot; keys it lacks
	// mean empty lists (a snapshot from before the key existed).
	Restore(tx *Tx, src SectionSource) error
}

// Section is an immutable point-in-time view of one module's state.
type Section interface {
	// Hash writes the module's canonical encoding into e, in a fixed
	// order, so that equal states give equal bytes on every node. A module
	// added after the first release writes nothing while it is empty, so
	// that the state hash of a cluster that never used it is unchanged.
	Hash(e *HashEncoder)
	// Write encodes the section's lists and values into w.
	Write(w *SectionWriter) error
	// Counts reports how many items of each kind the section holds
	// ("bans": 1000), for snapshot inspection and diagnostics.
	Counts() map[string]int
}

// SectionSource is one module's part of a snapshot being restored: raw
// JSON values by key.
type SectionSource map[string]json.RawMessage

// Decode decodes the value at key into v. A missing key leaves v as it is
// and is not an error.
func (s SectionSource) Decode(key string, v any) error {
	raw, ok := s[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return NewError(ErrInvalid, "snapshot key %q: %v", key, err)
	}
	return nil
}

// TenantDropper is implemented by every module that keeps state belonging
// to a tenant. When a tenant is deleted, the FSM calls DropTenant on each
// of them, in module order, inside the same Apply as the deletion, so that
// a tenant's projects, bans, keys, sessions and everything later domains
// add disappear in one log entry on every node.
type TenantDropper interface {
	DropTenant(tx *Tx, tenant string)
}

// Pruner is implemented by modules that forget expired data. Prune runs
// after every accepted command, with tx.Time (the leader's stamped time),
// so that every replica prunes the same items at the same index.
type Pruner interface {
	Prune(tx *Tx)
}

// EventSink is implemented by modules that record what happened, such as
// the audit log (and later a webhook outbox). After a command is accepted,
// the FSM hands every sink the events its handler emitted, in the same
// Apply, so the record and the change it describes are one log entry.
type EventSink interface {
	Consume(tx *Tx, events []Event)
}

// Event describes one accepted change, for the EventSinks. It never holds
// a secret.
type Event struct {
	// Actor is who made the change; Emit fills in the command's actor when
	// it is empty.
	Actor  string
	Action string
	Tenant string
	Target string
	Detail string
	// Operational marks routine lifecycle changes (a game server's state,
	// its labels) that later sinks such as webhooks deliver but the audit
	// log leaves out, so it keeps what people did.
	Operational bool
	// Data is the event's structured payload for sinks that deliver it
	// outside the cluster (the webhook outbox): flat, JSON-safe fields such
	// as {"project": "p", "server": "s", "from": "ready", "to": "allocated"}.
	// Like every field here it is replicated, so it must be set only from the
	// command and the state, never from the applying node.
	Data map[string]string
}
