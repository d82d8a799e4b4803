package testnet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// recFault records the calls the nemesis makes.
type recFault struct {
	name        string
	unavailable error
	calls       *[]string
}

func (f *recFault) Name() string              { return f.name }
func (f *recFault) Available(*FaultEnv) error { return f.unavailable }
func (f *recFault) Describe() string          { return "target of " + f.name }
func (f *recFault) Heal(context.Context, *FaultEnv) error {
	*f.calls = append(*f.calls, "heal "+f.name)
	return nil
}
func (f *recFault) Inject(context.Context, *FaultEnv) error {
	*f.calls = append(*f.calls, "inject "+f.name)
	return nil
}

func TestNemesisSchedule(t *testing.T) {
	var calls []string
	faults := []Fault{
		&recFault{name: "a", calls: &calls},
		&recFault{name: "b", calls: &calls},
		&recFault{name: "c", calls: &calls, unavailable: errors.New("not here")},
	}
	run := func(seed uint64) []Window {
		calls = nil
		env := &FaultEnv{Rand: rand.New(rand.NewPCG(seed, 1)), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		n := NewNemesis(NemesisConfig{Faults: faults, QuietMin: time.Millisecond, HoldMin: time.Millisecond}, env, NewClock())
		return n.Run(context.Background()) // Duration 0: only the first round
	}
	ws := run(7)
	if len(ws) != 3 {
		t.Fatalf("the first round must run every fault once, even past the duration: %+v", ws)
	}
	seen := map[string]bool{}
	for _, w := range ws {
		seen[w.Fault] = true
		if w.End < w.Start {
			t.Errorf("window ends before it starts: %+v", w)
		}
		if w.Fault == "c" && w.Err != "skipped: not here" {
			t.Errorf("unavailable fault not reported as skipped: %+v", w)
		}
		if w.Fault != "c" && (w.Err != "" || w.Detail != "target of "+w.Fault) {
			t.Errorf("window: %+v", w)
		}
	}
	if len(seen) != 3 || len(calls) != 4 {
		t.Errorf("faults %v, calls %v", seen, calls)
	}
	for i := 0; i < len(calls); i += 2 {
		if calls[i][len("inject "):] != calls[i+1][len("heal "):] {
			t.Errorf("inject and heal do not alternate: %v", calls)
		}
	}
	// The same seed gives the same schedule.
	first := append([]string(nil), calls...)
	run(7)
	if len(calls) != len(first) || calls[0] != first[0] || calls[2] != first[2] {
		t.Errorf("seed 7 twice: %v then %v", first, calls)
	}
}
