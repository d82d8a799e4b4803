package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimits configures request rate limiting. Limits apply to session
// creation and every mutating route (POST, PUT, DELETE; session
// verification is a read and is not limited). Each is a token bucket
// (golang.org/x/time/rate): Rate requests per second, bursts of Burst.
// A zero Rate disables that limit.
//
// Limits are enforced by each node on the requests it receives: a client
// spreading requests over N nodes gets up to N times the limit
// cluster-wide. That is deliberate: a cluster-wide count would need a
// Raft write or a gossip round per request, which is the very load the
// limiter exists to shed.
type RateLimits struct {
	// KeyRate and KeyBurst limit each API key, and each player (by its
	// session token's player id) on the UGC routes.
	KeyRate  float64
	KeyBurst int
	// TenantRate and TenantBurst limit all API keys of one tenant
	// together.
	TenantRate  float64
	TenantBurst int
	// OperatorRate and OperatorBurst limit each operator token. Zero (the
	// default) leaves operators unlimited: they run benchmarks and
	// migrations through the API.
	OperatorRate  float64
	OperatorBurst int
	// Publish limits topic publishing (POST .../topics/{topic}/messages)
	// with buckets of its own, so chat relays and match events are not
	// held to the rate of administrative writes, and a burst of messages
	// cannot starve a tenant's ban and session writes. Its Publish field
	// is ignored.
	Publish *RateLimits
}

// maxLimiters bounds each limiter map. Beyond it, idle limiters are
// evicted; an idle limiter has refilled to a full bucket, so evicting it
// loses nothing.
const maxLimiters = 10_000

// limiterSet is a bounded map of token buckets.
type limiterSet struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiterSet(perSecond float64, burst int) *limiterSet {
	if perSecond <= 0 {
		return nil
	}
	return &limiterSet{limit: rate.Limit(perSecond), burst: max(burst, 1), m: make(map[string]*limiterEntry)}
}

// reserve takes n tokens from key's bucket. A nil set always allows.
func (l *limiterSet) reserve(key string, now time.Time, n int) *rate.Reservation {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxLimiters {
			l.evict(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = e
	}
	e.last = now
	return e.lim.ReserveN(now, n)
}

// evict drops limiters idle long enough to have refilled; if every one is
// busy, it drops half of them (map order is random), which only ever
// errs towards allowing. The caller holds mu.
func (l *limiterSet) evict(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for k, e := range l.m {
		if now.Sub(e.last) >= full {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxLimiters/2 {
			break
		}
		delete(l.m, k)
	}
}

// rateLimiter holds the per-key, per-tenant and per-operator buckets, and
// a separate set for publishing.
type rateLimiter struct {
	keys, tenants, operators *limiterSet
	publish                  *rateLimiter
}

func newRateLimiter(c RateLimits) *rateLimiter {
	rl := &rateLimiter{
		keys:      newLimiterSet(c.KeyRate, c.KeyBurst),
		tenants:   newLimiterSet(c.TenantRate, c.TenantBurst),
		operators: newLimiterSet(c.OperatorRate, c.OperatorBurst),
	}
	if c.Publish != nil {
		pc := *c.Publish
		pc.Publish = nil
		rl.publish = newRateLimiter(pc)
	} else {
		rl.publish = &rateLimiter{}
	}
	return rl
}

// forRoute picks the bucket set a route draws from.
func (rl *rateLimiter) forRoute(rt *route) *rateLimiter {
	if rt.publishes() && rl.publish != nil {
		return rl.publish
	}
	return rl
}

// allow decides one request of p. It takes a token from every bucket
// that applies, and gives them all back if any one is empty, answering
// how long to wait.
func (rl *rateLimiter) allow(p Principal, now time.Time) (bool, time.Duration) {
	return rl.allowN(p, now, 1)
}

// allowN is allow for n requests at once (a batch publish): all n tokens
// or none.
func (rl *rateLimiter) allowN(p Principal, now time.Time, n int) (bool, time.Duration) {
	if rl == nil || n <= 0 {
		return true, 0
	}
	var rs [2]*rate.Reservation
	switch p.Kind {
	case PrincipalOperator:
		rs[0] = rl.operators.reserve(p.ID, now, n)
	case PrincipalAPIKey:
		rs[0] = rl.keys.reserve(p.ID, now, n)
		rs[1] = rl.tenants.reserve(p.Tenant, now, n)
	case PrincipalPlayer:
		// A player is held to a key's rate, and counts towards its tenant's.
		rs[0] = rl.keys.reserve("player\x00"+p.Tenant+"\x00"+p.ID, now, n)
		rs[1] = rl.tenants.reserve(p.Tenant, now, n)
	}
	var wait time.Duration
	for _, r := range rs {
		if r == nil {
			continue
		}
		if !r.OK() {
			wait = max(wait, time.Second)
		} else if d := r.DelayFrom(now); d > wait {
			wait = d
		}
	}
	if wait == 0 {
		return true, 0
	}
	for _, r := range rs {
		if r != nil {
			r.CancelAt(now)
		}
	}
	return false, wait
}

// rateLimited answers 429 with Retry-After if p is over a limit on this
// route, and counts it. It returns false when it has answered.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request, rt *route, p Principal) bool {
	ok, wait := s.limits.forRoute(rt).allow(p, s.now())
	if ok {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	s.metrics.rateLimited.WithLabelValues(s.tenantLabel(r, p), rt.pattern()).Inc()
	writeError(w, errorf(http.StatusTooManyRequests, codeRateLimited,
		"too many requests; retry after %d s", max(secs, 1)))
	return true
}

// tenantLabel bounds the tenant metric label: a tenant that exists in the
// state, "unknown" for any other name (so random paths cannot mint
// series), or "none" for a route without a tenant.
func (s *Server) tenantLabel(r *http.Request, p Principal) string {
	t := r.PathValue("tenant")
	if t == "" {
		t = p.Tenant
	}
	if t == "" {
		return "none"
	}
	if _, ok := s.state.Tenancy.Tenant(t); !ok {
		return "unknown"
	}
	return t
}
