package testnet

import (
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestAutopilotSettingsReplicated: the replicated autopilot settings
// override the agents' flags. Three agents started with --voters 1 keep
// one voter; `cassnet operator autopilot set --target-voters 3` through
// a non-voter makes the leader's autopilot promote the other two.
func TestAutopilotSettingsReplicated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 1, "--voters", "1")
	nodes := c.Nodes()
	time.Sleep(3 * time.Second) // past --stabilization-time 2s: the flag keeps it at one voter
	waitVoters(t, ctx, cl, nodes, 1)
	via := nodes[2]
	b, err := exec.Command(binPath, "operator", "autopilot", "set", "--target-voters", "3",
		"--http-addr", via.HTTPAddr(), "--token", c.AdminToken()).CombinedOutput()
	if err != nil || !regexp.MustCompile(`TargetVoters\s+3\s+replicated`).Match(b) {
		t.Fatalf("operator autopilot set: %v\n%s", err, b)
	}
	waitVoters(t, ctx, cl, nodes, 3)
}
