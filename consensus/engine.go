package consensus

import (
	"sync/atomic"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// State versions. The replicated state version says which behaviour every
// node applies. A rolling upgrade leaves it where it was until every Raft
// server runs a binary that supports the next one; then the leader raises
// it with one SetStateVersion entry, and the new behaviour starts at that
// index on every node at once. Old nodes never see behaviour they would
// not apply identically.
const (
	// StateVersionInitial is every cluster's version until raised: the
	// state as the first release applied it.
	StateVersionInitial = 1
	// StateVersionDomains adds ban pruning and operations that need every
	// server to run the domain-state release.
	StateVersionDomains = 2
	// StateVersionManagement adds the management domains (fleets, UGC,
	// webhooks, plugins), lost game servers and allocation preferences: a
	// node of the domain-state release would refuse or ignore them, so
	// they wait until every server runs this release.
	StateVersionManagement = 3
	// SupportedStateVersion is the highest version this binary applies.
	SupportedStateVersion = StateVersionManagement
)

// engineModule is the engine's own replicated data: the state version. It
// is a Module like any other, so it snapshots and restores with the rest.
type engineModule struct {
	cur atomic.Uint32 // committed state version; 0 means Initial
}

type engineWrite struct {
	m       *engineModule
	version uint32
}

func (w *engineWrite) Commit() { w.m.cur.Store(w.version) }

func (m *engineModule) Name() string { return "engine" }

func (m *engineModule) committed() uint32 {
	if v := m.cur.Load(); v != 0 {
		return v
	}
	return StateVersionInitial
}

// version is the state version as tx sees it.
func (m *engineModule) version(tx *Tx) uint32 {
	if p, ok := tx.Staged(m).(*engineWrite); ok {
		return p.version
	}
	return m.committed()
}

func (m *engineModule) write(tx *Tx) *engineWrite {
	return tx.Stage(m, func() Pending { return &engineWrite{m: m, version: m.committed()} }).(*engineWrite)
}

func (m *engineModule) Register(r *Router) {
	Handle(r, m, Handler[*cassnetv1.SetStateVersion]{
		Validate: func(op *cassnetv1.SetStateVersion) error {
			if v := op.GetVersion(); v < StateVersionDomains || v > SupportedStateVersion {
				return NewError(ErrInvalid, "version: state version %d is not one this node applies (%d to %d)", v, StateVersionDomains, SupportedStateVersion)
			}
			return nil
		},
		Apply: func(tx *Tx, op *cassnetv1.SetStateVersion) error {
			if cur := m.version(tx); op.GetVersion() <= cur {
				return NewError(ErrConflict, "state version is already %d", cur)
			}
			// No event: the audit log stays what users did; the node
			// logs the raise.
			m.write(tx).version = op.GetVersion()
			return nil
		},
	})
	Handle(r, m, Handler[*cassnetv1.RecordSnapshotRestore]{
		Validate: func(op *cassnetv1.RecordSnapshotRestore) error {
			if len(op.GetClusterId()) > 128 || len(op.GetStateHash()) > 128 {
				return NewError(ErrInvalid, "record_snapshot_restore: cluster_id and state_hash are at most 128 bytes")
			}
			return nil
		},
		// Changes no data and emits no event, so the state hash right
		// after a restore is the archive's; its index moves every node past
		// the indexes from before the restore. The node logs the restore.
		Apply:           func(tx *Tx, op *cassnetv1.RecordSnapshotRestore) error { return nil },
		MinStateVersion: StateVersionDomains,
	})
}

func (m *engineModule) Snapshot() Section { return engineSection(m.committed()) }

func (m *engineModule) Restore(tx *Tx, src SectionSource) error {
	v := uint32(StateVersionInitial)
	if err := src.Decode("state_version", &v); err != nil {
		return err
	}
	if v < StateVersionInitial || v > SupportedStateVersion {
		return NewError(ErrInvalid, "snapshot state version %d: this node applies versions %d to %d; upgrade it first", v, StateVersionInitial, SupportedStateVersion)
	}
	m.write(tx).version = v
	return nil
}

type engineSection uint32

// Hash writes nothing: the state hash covers the domains' data, which is
// what every read answers, so that a data dir keeps its hash across the
// upgrade that raises its state version. The version is reported beside
// the hash (RaftInfo.StateVersion) and the convergence checks compare
// both.
func (s engineSection) Hash(*HashEncoder) {}

func (s engineSection) Write(w *SectionWriter) error {
	if s <= StateVersionInitial {
		return nil
	}
	return w.Value("state_version", uint32(s))
}

func (s engineSection) Counts() map[string]int { return map[string]int{"state_version": int(s)} }
