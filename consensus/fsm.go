package consensus

import (
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
)

// ApplyResult is what FSM.Apply returns for every log entry; Raft hands it
// back through ApplyFuture.Response on the node that proposed the entry.
type ApplyResult struct {
	// Index is the Raft index of the entry.
	Index uint64
	// Err is nil if the command was applied, or why it was rejected
	// (ErrInvalid, ErrNotFound or ErrConflict; compare with errors.Is).
	// A rejected command changed nothing but the applied index.
	Err error
}

// FSM is the raft.FSM over a State. Raft calls Apply, Snapshot and Restore
// from its single FSM goroutine; readers use State concurrently.
type FSM struct {
	state  *State
	logger *slog.Logger
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an FSM that applies entries to state (a fresh State if
// nil) and logs rejected entries to logger (discarded if nil).
func NewFSM(state *State, logger *slog.Logger) *FSM {
	if state == nil {
		state = NewState()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FSM{state: state, logger: logger}
}

// State returns the state the FSM applies to.
func (f *FSM) State() *State { return f.state }

// Apply decodes, validates and applies one committed log entry. It always
// returns an *ApplyResult and always advances the applied index, so waiters
// see every entry, including ones it rejects. A command is validated
// completely before anything changes: it is applied whole or not at all.
func (f *FSM) Apply(l *raft.Log) interface{} {
	res := &ApplyResult{Index: l.Index}
	cmd, err := DecodeCommand(l.Data)
	if err == nil {
		err = validateEntry(cmd)
	}
	if err != nil {
		// A committed entry that does not decode or validate means a
		// proposer skipped validation or runs a different version. Log
		// only the index and the error: the payload may hold secrets.
		f.logger.Warn("consensus: rejected malformed log entry",
			"index", l.Index, "term", l.Term, "error", err)
		f.state.skip(l.Index)
		res.Err = err
		return res
	}
	res.Err = f.state.apply(cmd, l.Index)
	return res
}

// Snapshot captures the state for log compaction. It copies the data under
// the read lock and returns at once; encoding and I/O happen in Persist,
// while Apply carries on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{data: f.state.snapshot()}, nil
}

// Restore replaces the whole state with the snapshot read from rc, rebuilds
// the indexes, sets the applied index to the snapshot's and wakes waiters.
// If the snapshot cannot be read the state is left as it was.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	return f.state.restore(data)
}

// skip advances the applied index past a rejected entry without touching
// the data.
func (s *State) skip(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(index)
}
