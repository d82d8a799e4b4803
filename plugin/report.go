package plugin

import (
	"context"
	"sync"
	"time"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/plugins"
)

// reporter turns failures into RecordPluginFailure proposals, at most one
// per plugin per ReportPeriod, sent from its own goroutine so that a
// failing hook never waits on Raft and cannot flood it.
type reporter struct {
	r    *Runtime
	mu   sync.Mutex
	pend map[verKey]*pending
	kick chan struct{}
}

type pending struct {
	op    *cassnetv1.RecordPluginFailure // the latest failure
	count uint32
	sent  time.Time
}

func newReporter(r *Runtime) *reporter {
	return &reporter{r: r, pend: map[verKey]*pending{}, kick: make(chan struct{}, 1)}
}

func (rp *reporter) note(p plugins.Plugin, hook, kind, msg string) {
	if rp.r.cfg.Report == nil {
		return
	}
	k := verKey{tenant: p.Tenant, name: p.Name}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	pe, ok := rp.pend[k]
	if !ok {
		pe = &pending{}
		rp.pend[k] = pe
	}
	pe.count++
	pe.op = &cassnetv1.RecordPluginFailure{Tenant: p.Tenant, Name: p.Name, Sha256Hex: p.SHA256, Hook: truncate(hook, 64),
		Kind: kind, Message: truncate(cleanMessage(msg), 512), Node: truncate(rp.r.cfg.Node, 128)}
	if time.Since(pe.sent) >= rp.r.cfg.ReportPeriod {
		select {
		case rp.kick <- struct{}{}:
		default:
		}
	}
}

func (rp *reporter) run(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(max(rp.r.cfg.ReportPeriod/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		case <-rp.kick:
		}
		rp.flush(ctx)
	}
}

func (rp *reporter) flush(ctx context.Context) {
	now := time.Now()
	var send []*cassnetv1.RecordPluginFailure
	rp.mu.Lock()
	for k, pe := range rp.pend {
		switch {
		case pe.count > 0 && now.Sub(pe.sent) >= rp.r.cfg.ReportPeriod:
			pe.op.Count = pe.count
			send = append(send, pe.op)
			pe.count, pe.op, pe.sent = 0, nil, now
		case pe.count == 0 && now.Sub(pe.sent) >= 2*rp.r.cfg.ReportPeriod:
			delete(rp.pend, k)
		}
	}
	rp.mu.Unlock()
	for _, op := range send {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := rp.r.cfg.Report(sctx, op); err != nil {
			rp.r.log.Warn("plugin failure report not recorded", "tenant", op.Tenant, "plugin", op.Name, "err", err)
		}
		cancel()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
