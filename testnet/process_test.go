package testnet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCrashedNodeIsNotRestartedSilently: a node that exited without a
// fault (a panic, a fatal error) is reported as such by Restart, which
// HealAll calls, and not as "already running", and is not started again.
func TestCrashedNodeIsNotRestartedSilently(t *testing.T) {
	n := &Node{Name: "n9", bin: "/bin/false", logPath: filepath.Join(t.TempDir(), "n9.log")}
	if err := n.start(nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n.Running() {
		t.Fatal("an exited process reports running")
	}
	crashed := n.Pid()
	err := n.Restart()
	if err == nil || !strings.Contains(err.Error(), "exited on its own") || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Restart of a crashed node: %v, want it reported with its exit status", err)
	}
	if got := n.Pid(); got != crashed {
		t.Fatalf("Restart started a new process (pid %d, the crashed one was %d)", got, crashed)
	}
}
