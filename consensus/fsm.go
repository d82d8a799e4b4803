package consensus

import (
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
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

// FSM is the raft.FSM over a set of Modules. It decodes each entry, routes
// its operation by the Router's table to the module that owns it, runs the
// cross-module steps (tenant deletion, pruning, events) in the same entry,
// commits every module's staged change together and then advances the one
// applied index. Raft calls Apply, Snapshot and Restore from its single
// FSM goroutine; readers use the modules' accessors and Applied
// concurrently.
type FSM struct {
	modules []Module // in hash and snapshot order; the engine is last
	engine  *engineModule
	router  *Router
	applied *Applied
	logger  *slog.Logger

	// mu is held while an entry's changes are committed and the index
	// advances, and while sections are captured, so a capture is never
	// torn between two entries. Both take microseconds.
	mu       sync.Mutex
	gen      uint64                   // bumped whenever replicated data changes; under mu
	index    uint64                   // the last entry the committed data includes; under mu
	hashMemo atomic.Pointer[hashMemo] // last Hash result
}

var _ raft.BatchingFSM = (*FSM)(nil)

// NewFSM returns an FSM over modules, which register their commands now.
// Module names must be unique. Rejected entries are logged to logger
// (discarded if nil).
func NewFSM(modules []Module, logger *slog.Logger) (*FSM, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &FSM{engine: &engineModule{}, router: newRouter(), applied: newApplied(), logger: logger}
	seen := make(map[string]bool)
	for _, m := range append(append([]Module{}, modules...), f.engine) {
		if m == nil || seen[m.Name()] || m.Name() == "" {
			return nil, fmt.Errorf("consensus: module names must be unique and not empty (%v)", m)
		}
		seen[m.Name()] = true
		m.Register(f.router)
		f.modules = append(f.modules, m)
	}
	return f, nil
}

// Applied is the applied index and change notification every module
// shares.
func (f *FSM) Applied() *Applied { return f.applied }

// Apply decodes, validates and applies one committed log entry. It always
// returns an *ApplyResult and always advances the applied index, so waiters
// see every entry, including ones it rejects.
func (f *FSM) Apply(l *raft.Log) interface{} {
	res := f.applyEntry(l)
	f.applied.advance(l.Index)
	return res
}

// ApplyBatch applies a batch of committed entries (raft.BatchingFSM): each
// command entry exactly as Apply does, in order, each in its own
// transaction, committed before the next begins; then it advances the
// applied index once, to the last command of the batch. Waiters (a
// follower's forwarded writes, blocking queries) wake once per batch
// instead of once per entry. Raft answers the batch's futures only after
// ApplyBatch returns, so a write is still acknowledged only once it is
// visible. Entries of other types (configuration changes) change nothing
// here and get a nil response, as Apply never sees them.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	var last uint64
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		out[i] = f.applyEntry(l)
		last = l.Index
	}
	if last > 0 {
		f.applied.advance(last)
	}
	return out
}

// applyEntry decodes, validates and applies one command entry and
// commits its changes; the caller advances the applied index.
func (f *FSM) applyEntry(l *raft.Log) *ApplyResult {
	res := &ApplyResult{Index: l.Index}
	cmd, err := DecodeCommand(l.Data)
	var (
		rt *route
		op proto.Message
	)
	if err == nil {
		rt, op, err = f.router.validate(cmd)
	}
	if err == nil && cmd.GetTimeUnixNano() <= 0 {
		err = NewError(ErrInvalid, "time_unix_nano: must be stamped by the leader")
	}
	if err != nil {
		// A committed entry that does not decode or validate means a
		// proposer skipped validation or runs a different version. Log
		// only the index and the error: the payload may hold secrets.
		f.logger.Warn("consensus: rejected malformed log entry",
			"index", l.Index, "term", l.Term, "error", err)
		f.commit(l.Index, nil)
		res.Err = err
		return res
	}
	tx := &Tx{Index: l.Index, Time: time.Unix(0, cmd.GetTimeUnixNano()).UTC(), Actor: cmd.GetActor(), fsm: f}
	if err := f.run(tx, rt, op); err != nil {
		f.commit(l.Index, nil)
		res.Err = err
		return res
	}
	f.commit(l.Index, tx)
	return res
}

// run applies op in tx and the cross-module steps that follow an accepted
// command. A panic in a handler is a bug; it is turned into a rejection so
// that the node stays up, and nothing the handler staged is committed.
func (f *FSM) run(tx *Tx, rt *route, op proto.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f.logger.Error("consensus: command handler panicked; entry rejected",
				"index", tx.Index, "module", rt.owner.Name(), "panic", fmt.Sprint(p))
			err = NewError(ErrInvalid, "internal error applying %s", rt.owner.Name())
		}
	}()
	if v := f.engine.version(tx); rt.minVersion > v {
		return NewError(ErrStateVersion, "this operation needs state version %d; the cluster is at %d until every server is upgraded", rt.minVersion, v)
	}
	if err := rt.apply(tx, op); err != nil {
		return err
	}
	for _, m := range f.modules {
		if p, ok := m.(Pruner); ok {
			p.Prune(tx)
		}
	}
	if len(tx.events) > 0 {
		for _, m := range f.modules {
			if s, ok := m.(EventSink); ok {
				s.Consume(tx, tx.events)
			}
		}
	}
	return nil
}

// commit publishes tx's staged changes (if any) and records index as the
// last entry they include, under mu, so that captures see whole entries
// only and know which. Waiters see the entry once the applied index
// advances (Apply, ApplyBatch).
func (f *FSM) commit(index uint64, tx *Tx) {
	f.mu.Lock()
	if tx != nil {
		tx.commit()
		f.gen++
	}
	f.index = index
	f.mu.Unlock()
}

// capture is a consistent view of every module at one index.
type capture struct {
	index    uint64
	gen      uint64
	version  uint32
	names    []string
	sections []Section
}

func (f *FSM) capture() *capture {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &capture{index: f.index, gen: f.gen, version: f.engine.committed()}
	for _, m := range f.modules {
		c.names = append(c.names, m.Name())
		c.sections = append(c.sections, m.Snapshot())
	}
	return c
}

// Snapshot captures every module for log compaction. Each module's
// Snapshot returns at once, so Apply waits only for the capture; encoding
// and I/O happen in Persist, while Apply carries on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{c: f.capture()}, nil
}

// Restore replaces every module's state with the snapshot read from rc.
// It restores each module into one transaction and commits them together
// only if all succeeded; otherwise the state is left as it was.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	snap, err := readSnapshot(rc, f.modules)
	if err != nil {
		return err
	}
	tx := &Tx{Index: snap.index, fsm: f}
	for _, m := range f.modules {
		if err := m.Restore(tx, snap.sources[m.Name()]); err != nil {
			return fmt.Errorf("restore snapshot: %s: %w", m.Name(), err)
		}
	}
	f.commit(snap.index, tx)
	f.applied.advance(snap.index)
	return nil
}

// Hash returns the hex SHA-256 of a canonical encoding of all replicated
// data, module by module in a fixed order. The applied index is left out,
// so two nodes holding the same data hash equal even if one has since
// applied commands that were rejected. It captures the modules at once
// and digests outside any lock; the result is remembered until the data
// next changes.
func (f *FSM) Hash() string {
	f.mu.Lock()
	gen := f.gen
	f.mu.Unlock()
	if m := f.hashMemo.Load(); m != nil && m.gen == gen {
		return m.sum
	}
	c := f.capture()
	sum := c.hash()
	f.hashMemo.Store(&hashMemo{gen: c.gen, sum: sum})
	return sum
}

func (c *capture) hash() string {
	e := newHashEncoder()
	e.Str("cassnet-state-v1")
	for _, s := range c.sections {
		s.Hash(e)
	}
	return hex.EncodeToString(e.sum())
}

// Counts reports, per module, how many items of each kind it holds.
func (f *FSM) Counts() map[string]map[string]int {
	return f.capture().counts()
}

// hashMemo is the last Hash result and the data generation it was taken at.
type hashMemo struct {
	gen uint64
	sum string
}
