package node

import (
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestValidateGCPercent(t *testing.T) {
	for _, p := range []int{0, 1, 100, DefaultGCPercent, maxGCPercent} {
		if err := validateGCPercent(p); err != nil {
			t.Errorf("%d: %v", p, err)
		}
	}
	for _, p := range []int{-1, -100, maxGCPercent + 1} {
		err := validateGCPercent(p)
		if err == nil || !strings.Contains(err.Error(), "--gc-percent") {
			t.Errorf("%d: error %v, want one naming --gc-percent", p, err)
		}
	}
}

// A node sets the target while it runs and restores the process's own
// afterwards; a zero target leaves it alone.
func TestApplyGCPercentRestores(t *testing.T) {
	orig := debug.SetGCPercent(137)
	defer debug.SetGCPercent(orig)
	n := &Node{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	n.cfg.GCPercent = 0
	n.applyGCPercent()()
	if got := debug.SetGCPercent(137); got != 137 {
		t.Fatalf("zero target changed the collector: %d", got)
	}

	n.cfg.GCPercent = 250
	restore := n.applyGCPercent()
	if got := debug.SetGCPercent(250); got != 250 {
		t.Fatalf("while running: %d, want 250", got)
	}
	restore()
	if got := debug.SetGCPercent(137); got != 137 {
		t.Fatalf("after restore: %d, want 137", got)
	}
}
