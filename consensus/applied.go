package consensus

import (
	"context"
	"sync"
)

// Applied is the index of the last log entry the FSM has applied, with one
// change notification for every module: blocking queries and
// read-your-writes wait on it. It is safe for concurrent use; only the FSM
// advances it, after every module has committed the entry.
type Applied struct {
	mu      sync.Mutex
	index   uint64
	changed chan struct{} // closed and replaced whenever index moves
}

func newApplied() *Applied { return &Applied{changed: make(chan struct{})} }

// Index is the Raft index of the last command applied.
func (a *Applied) Index() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index
}

// advance records that the entry at index has been applied (and is
// visible in every module) and wakes every waiter.
func (a *Applied) advance(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.index = index
	close(a.changed)
	a.changed = make(chan struct{})
}

// WaitIndex returns once Index() >= min, or with ctx's error.
func (a *Applied) WaitIndex(ctx context.Context, min uint64) error {
	if min == 0 {
		return nil
	}
	return a.WaitChange(ctx, min-1)
}

// WaitChange returns once Index() > after, or with ctx's error. It is the
// primitive behind blocking queries.
func (a *Applied) WaitChange(ctx context.Context, after uint64) error {
	for {
		a.mu.Lock()
		index, ch := a.index, a.changed
		a.mu.Unlock()
		if index > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
