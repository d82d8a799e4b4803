package main

import (
	"testing"

	"github.com/cassandranet/cassnet/node"
)

// The agent's collector target: its own default, GOGC from the
// environment when the operator set one, and --gc-percent over both.
func TestAgentGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name, gogc, cassEnv string
		args                []string
		want                int
	}{
		{"default", "", "", nil, node.DefaultGCPercent},
		{"GOGC set", "150", "", nil, 0},
		{"flag over GOGC", "150", "", []string{"--gc-percent", "300"}, 300},
		{"CASS_GC_PERCENT", "", "120", nil, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", tc.gogc)
			if tc.cassEnv != "" { // an empty CASS_* still counts as set
				t.Setenv("CASS_GC_PERCENT", tc.cassEnv)
			}
			a, err := parseAgent(append([]string{"--data-dir", t.TempDir()}, tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			if a.cfg.GCPercent != tc.want {
				t.Fatalf("GCPercent %d, want %d", a.cfg.GCPercent, tc.want)
			}
		})
	}
}
