package mesh

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"
)

// joinRetryBase is the first delay of the start-up join's backoff.
const joinRetryBase = 500 * time.Millisecond

// joinLoop joins addrs at start-up, retrying with exponential backoff and
// jitter (capped at JoinRetryMax) until some other member is alive. It
// runs in its own goroutine so that Start never waits for seeds.
func (m *Mesh) joinLoop(ctx context.Context, addrs []string) {
	defer m.joining.Store(false)
	delay := min(joinRetryBase, m.cfg.JoinRetryMax)
	for attempt := 1; ; attempt++ {
		if m.left.Load() {
			return
		}
		n, err := m.join(ctx, addrs)
		if others := m.roster.liveOthers(); others > 0 {
			m.log.Info("mesh: joined cluster", "contacted", n, "alive_peers", others, "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := jitter(delay)
		m.log.Warn("mesh: join failed; retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if !sleep(ctx, wait) {
			return
		}
		delay = min(2*delay, m.cfg.JoinRetryMax)
	}
}

// reconnectLoop is serf's reconnect loop. memberlist stops gossiping
// about a dead member after GossipToTheDeadTime and push/pull only picks
// alive members, so two sides of a long partition never merge by
// themselves. Every ReconnectInterval this loop joins the last address of
// every remembered failed member, and, if no other member is alive, the
// seeds and persisted peers too.
func (m *Mesh) reconnectLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.left.Load() {
			continue
		}
		for _, addr := range m.roster.addrs(StatusFailed) {
			if ctx.Err() != nil {
				return
			}
			if _, err := m.ml.Join([]string{addr}); err != nil {
				m.log.Debug("mesh: reconnect failed", "addr", addr, "err", err)
				continue
			}
			m.log.Info("mesh: reconnected to failed member's address", "addr", addr)
		}
		if m.roster.liveOthers() == 0 && !m.joining.Load() {
			if addrs := m.bootstrapAddrs(); len(addrs) > 0 {
				if n, err := m.join(ctx, addrs); n > 0 {
					m.log.Info("mesh: rejoined through seeds or persisted peers", "contacted", n)
				} else if err != nil {
					m.log.Debug("mesh: rejoin through seeds failed", "err", err)
				}
			}
		}
	}
}

// join joins each address in turn (so ctx is checked between the
// blocking attempts, each bounded by Timing.TCPTimeout), skipping this
// node's own address. It returns how many answered and the last error.
func (m *Mesh) join(ctx context.Context, addrs []string) (int, error) {
	self := m.selfAddr
	var (
		n       int
		lastErr error
	)
	for _, a := range addrs {
		if a == self {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if _, err := m.ml.Join([]string{a}); err != nil {
			lastErr = err
			continue
		}
		n++
	}
	return n, lastErr
}

// bootstrapAddrs is Seeds ∪ the peers read from PeersFile at start.
func (m *Mesh) bootstrapAddrs() []string {
	out := slices.Concat(m.cfg.Seeds, m.persisted)
	slices.Sort(out)
	return slices.Compact(out)
}

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
