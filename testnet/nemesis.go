package testnet

import (
	"context"
	"fmt"
	"time"
)

// Clock is the run's monotonic clock: nanoseconds since Start. Operation
// and fault-window timestamps share it, so they line up in the report.
type Clock struct{ start time.Time }

// NewClock starts a clock now.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now is the time since the clock started (monotonic).
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }

// At is t on the clock (t must carry a monotonic reading: time.Now()).
func (c Clock) At(t time.Time) int64 { return int64(t.Sub(c.start)) }

// NemesisConfig schedules faults.
type NemesisConfig struct {
	// Faults are injected in rounds; each round is a seeded shuffle of
	// all of them, so every fault runs once before any runs twice.
	Faults []Fault
	// Duration bounds the schedule: no fault starts after it, except
	// that the first round always completes, so every fault runs once.
	Duration time.Duration
	// Quiet is the range of pauses between faults, during which the
	// cluster can recover; Hold is the range a fault lasts.
	QuietMin, QuietMax time.Duration
	HoldMin, HoldMax   time.Duration
}

// Nemesis injects and heals faults on a schedule drawn from env.Rand.
type Nemesis struct {
	cfg   NemesisConfig
	env   *FaultEnv
	clock Clock
}

// NewNemesis returns a nemesis; Run starts it.
func NewNemesis(cfg NemesisConfig, env *FaultEnv, clock Clock) *Nemesis {
	if cfg.QuietMax < cfg.QuietMin {
		cfg.QuietMax = cfg.QuietMin
	}
	if cfg.HoldMax < cfg.HoldMin {
		cfg.HoldMax = cfg.HoldMin
	}
	return &Nemesis{cfg: cfg, env: env, clock: clock}
}

// Run injects faults until the duration is over or ctx ends, heals the
// last one in any case, and returns the windows. A fault that is not
// Available when its turn comes is skipped with a zero-length window
// that says why.
func (n *Nemesis) Run(ctx context.Context) []Window {
	var windows []Window
	if len(n.cfg.Faults) == 0 {
		return nil
	}
	deadline := time.Now().Add(n.cfg.Duration)
	var round []Fault
	for rounds := 0; ; {
		if len(round) == 0 {
			for _, i := range n.env.Rand.Perm(len(n.cfg.Faults)) {
				round = append(round, n.cfg.Faults[i])
			}
			rounds++
		}
		f := round[0]
		round = round[1:]
		quiet := n.between(n.cfg.QuietMin, n.cfg.QuietMax)
		hold := n.between(n.cfg.HoldMin, n.cfg.HoldMax)
		if rounds > 1 && time.Now().Add(quiet).After(deadline) {
			return windows
		}
		if !sleepCtx(ctx, quiet) {
			return windows
		}
		windows = append(windows, n.one(ctx, f, hold))
	}
}

// one runs one fault: inject, hold, heal.
func (n *Nemesis) one(ctx context.Context, f Fault, hold time.Duration) Window {
	w := Window{Fault: f.Name(), Start: n.clock.Now()}
	if err := f.Available(n.env); err != nil {
		w.End, w.Err = w.Start, "skipped: "+err.Error()
		return w
	}
	n.env.Log.Info("nemesis: inject", "fault", f.Name())
	ictx, cancel := context.WithTimeout(ctx, 45*time.Second)
	err := f.Inject(ictx, n.env)
	cancel()
	if d, ok := f.(Describer); ok {
		w.Detail = d.Describe()
	}
	if err != nil {
		w.Err = fmt.Sprintf("inject: %v", err)
		n.env.Log.Warn("nemesis: inject failed", "fault", f.Name(), "err", err)
	} else {
		n.env.Log.Info("nemesis: holding", "fault", f.Name(), "detail", w.Detail, "for", hold)
		sleepCtx(ctx, hold)
	}
	// Heal even when ctx has ended: a fault must never outlive the run.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 45*time.Second)
	defer hcancel()
	if err := f.Heal(hctx, n.env); err != nil {
		w.Err = joinErr(w.Err, fmt.Sprintf("heal: %v", err))
		n.env.Log.Warn("nemesis: heal failed", "fault", f.Name(), "err", err)
	}
	w.End = n.clock.Now()
	n.env.Log.Info("nemesis: healed", "fault", f.Name())
	return w
}

func (n *Nemesis) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.env.Rand.Int64N(int64(hi-lo)))
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept
// the whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
