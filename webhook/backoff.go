package webhook

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule: attempt n (n >= 1 failed attempts so
// far) waits Base * 2^(n-1), at most Max, spread by ±Jitter (a fraction)
// so that many failing deliveries do not retry in step.
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Jitter float64
}

// DefaultBackoff: 5 s, 10 s, 20 s ... up to an hour, ±20 %. With the
// default 24 h retry window that is about 30 attempts per event.
var DefaultBackoff = Backoff{Base: 5 * time.Second, Max: time.Hour, Jitter: 0.2}

// Delay is the wait after the n-th failed attempt; r in [0, 1) draws the
// jitter.
func (b Backoff) Delay(n uint32, r float64) time.Duration {
	d := b.Base
	for i := uint32(1); i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (1 + b.Jitter*(2*r-1)))
}

func jitter() float64 { return rand.Float64() }
