package api

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// Authentication must never cost a Raft write per request: that would let
// anyone with a network path turn failed logins into log entries on every
// node. So this node aggregates what it needs to replicate and flushes it
// on a timer (Server.Run): authentication failures, counted by
// (credential id, reason), at most every AuthFailureFlush, and API key
// uses, coalesced to the latest second per key, at most every
// KeyTouchFlush. Both buffers are bounded.

// Flush defaults.
const (
	DefaultAuthFailureFlush = 10 * time.Second
	DefaultKeyTouchFlush    = time.Minute
)

// maxFailureKeys bounds the distinct (credential, reason, tenant) triples
// held between flushes; beyond it failures are counted under
// anonymous/overflow, so a flood of random key ids cannot grow memory.
const maxFailureKeys = identity.MaxAuthFailureEntries - 1

// authFailure is one aggregation key. credential is "anonymous" or
// "<kind>:<id>", never a secret.
type authFailure struct {
	credential, reason, tenant string
}

// failureLog counts authentication failures between flushes.
type failureLog struct {
	mu     sync.Mutex
	counts map[authFailure]uint32
}

func (l *failureLog) record(f authFailure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = make(map[authFailure]uint32)
	}
	if _, ok := l.counts[f]; !ok && len(l.counts) >= maxFailureKeys {
		f = authFailure{credential: "anonymous", reason: "overflow"}
	}
	if l.counts[f] < 1<<32-1 {
		l.counts[f]++
	}
}

// drain returns the counts, sorted, and starts afresh.
func (l *failureLog) drain() []*cassnetv1.AuthFailure {
	l.mu.Lock()
	counts := l.counts
	l.counts = nil
	l.mu.Unlock()
	out := make([]*cassnetv1.AuthFailure, 0, len(counts))
	for _, f := range slices.SortedFunc(maps.Keys(counts), func(a, b authFailure) int {
		return cmp.Or(cmp.Compare(a.credential, b.credential), cmp.Compare(a.reason, b.reason), cmp.Compare(a.tenant, b.tenant))
	}) {
		out = append(out, &cassnetv1.AuthFailure{
			Credential: f.credential, Reason: f.reason, Tenant: f.tenant, Count: counts[f],
		})
	}
	return out
}

// keyTouches remembers the last second each API key authenticated. It
// only ever holds ids of keys that exist, so it is bounded by the state.
type keyTouches struct {
	mu   sync.Mutex
	last map[string]int64
}

func (k *keyTouches) record(id string, now time.Time) {
	sec := now.Unix()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last == nil {
		k.last = make(map[string]int64)
	}
	if k.last[id] < sec {
		k.last[id] = sec
	}
}

func (k *keyTouches) drain() []*cassnetv1.KeyUse {
	k.mu.Lock()
	last := k.last
	k.last = nil
	k.mu.Unlock()
	out := make([]*cassnetv1.KeyUse, 0, len(last))
	for _, id := range slices.Sorted(maps.Keys(last)) {
		out = append(out, &cassnetv1.KeyUse{Id: id, LastUsedUnix: last[id]})
	}
	return out
}

// Run flushes the aggregated authentication failures and key uses on
// their timers, and samples the metrics history, until ctx ends. The node calls it once, in its own
// goroutine, and waits for it to return. What is still buffered when ctx
// ends is dropped: at most one flush interval of failure counts and key
// uses, which is the documented price of not writing per request.
func (s *Server) Run(ctx context.Context) error {
	fail := time.NewTicker(s.failFlush)
	touch := time.NewTicker(s.touchFlush)
	hist := time.NewTicker(s.history.interval)
	defer fail.Stop()
	defer touch.Stop()
	defer hist.Stop()
	dl := time.NewTicker(ugcDownloadFlush)
	gc := time.NewTicker(s.ugcGC)
	defer dl.Stop()
	defer gc.Stop()
	s.sampleHistory()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			s.flushDownloads(fctx)
			cancel()
			return nil
		case <-dl.C:
			s.flushDownloads(ctx)
		case <-gc.C:
			s.collectBlobs(ctx)
		case <-hist.C:
			s.sampleHistory()
		case <-fail.C:
			s.flushAuthFailures(ctx)
		case <-touch.C:
			s.flushKeyTouches(ctx)
		}
	}
}

// nodePrincipal is this node acting for itself.
func (s *Server) nodePrincipal() Principal {
	return Principal{Kind: PrincipalNode, ID: s.node}
}

// flushAuthFailures writes the failures counted since the last flush, if
// any, as one RecordAuthFailures command.
func (s *Server) flushAuthFailures(ctx context.Context) {
	entries := s.failures.drain()
	if len(entries) == 0 {
		return
	}
	node := s.node
	if node == "" {
		node = "unnamed"
	}
	var total uint64
	for _, e := range entries {
		total += uint64(e.Count)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "authentication failures",
		slog.Int("credentials", len(entries)), slog.Uint64("count", total))
	_, err := s.apply(ctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_RecordAuthFailures{
		RecordAuthFailures: &cassnetv1.RecordAuthFailures{Node: node, Entries: entries},
	}})
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "could not record authentication failures in the audit log",
			slog.Uint64("count", total), slog.Any("err", err))
	}
}

// flushKeyTouches writes the last-used times seen since the last flush.
func (s *Server) flushKeyTouches(ctx context.Context) {
	uses := s.touches.drain()
	for len(uses) > 0 {
		n := min(len(uses), identity.MaxTouchEntries)
		_, err := s.apply(ctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_TouchApiKeys{
			TouchApiKeys: &cassnetv1.TouchAPIKeys{Entries: uses[:n]},
		}})
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelDebug, "could not record api key uses", slog.Any("err", err))
			return
		}
		uses = uses[n:]
	}
}
