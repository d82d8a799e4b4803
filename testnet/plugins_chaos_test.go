package testnet

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestChaosPlugins is issue 15's proof under faults: three nodes, four
// clients replacing the ban-policy plugin and its config, uploading and
// deleting a second plugin, and creating bans that pass through the
// policy's before_ban_create hook, while the nemesis kills and pauses
// nodes (and, with network namespaces, isolates one). The plugins checker
// must pass: every node serves the last acknowledged version (by sha256)
// and config, no acknowledged upload is lost, a ban the policy refuses
// is never in the state and an acknowledged one always is.
//
// It runs behind `make chaos-plugins` (CASSNET_CHAOS_PLUGINS=1), not in
// `make test`: about a minute of real processes.
func TestChaosPlugins(t *testing.T) {
	if os.Getenv("CASSNET_CHAOS_PLUGINS") == "" {
		t.Skip("set CASSNET_CHAOS_PLUGINS=1 (make chaos-plugins) to run the plugins chaos test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	faults, mode, partitions := []string{"kill", "pause"}, ModeLoopback, 0
	if err := NetnsAvailable(); err == nil {
		faults, mode, partitions = append(faults, "partition-one"), ModeNetns, 1
	} else {
		t.Logf("network namespaces unavailable (%v): kill and pause only", err)
	}
	cfg := chaosConfig(t, RunConfig{
		Nodes: 3, Clients: 4, Duration: 30 * time.Second, Mode: mode, Faults: faults,
		Workloads: []string{PluginWorkloadName},
		Checkers:  []Checker{&ConvergenceChecker{}, &PluginChecker{}, &LogChecker{}},
	})
	rep := runChaos(t, ctx, cfg)
	checkReport(t, rep, []string{"kill", "pause"}, partitions)
}
