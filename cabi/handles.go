package main

import "sync"

// handleTable maps the integers C holds to clients. See the package doc
// for why it is global.
type handleTable struct {
	mu      sync.RWMutex
	next    uint64
	m       map[uint64]*client
	initErr string // the last cn_init failure, for cn_last_error(0)
}

// handles is the package's only global (see the package doc).
var handles = handleTable{m: map[uint64]*client{}}

func (t *handleTable) add(c *client) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	t.m[t.next] = c
	return t.next
}

func (t *handleTable) get(h uint64) *client {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[h]
}

// take removes h and returns its client, nil if unknown.
func (t *handleTable) take(h uint64) *client {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.m[h]
	delete(t.m, h)
	return c
}

func (t *handleTable) setInitErr(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initErr = s
}

func (t *handleTable) lastInitErr() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.initErr
}
