package settings_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/settings"
)

func setAutopilot(op *cassnetv1.SetSettings) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: op}
	return c
}

// TestAutopilotSettings: the autopilot settings wait for state version 2,
// are validated, leave the hash and the snapshot of a state that never
// set them as they were, and survive a snapshot round trip.
func TestAutopilotSettings(t *testing.T) {
	h, s := newHarness(t)
	h.mustApply(setSettings(9))
	voters := &cassnetv1.SetSettings{AutopilotTargetVoters: 5}
	if res := h.apply(setAutopilot(voters)); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("autopilot settings at state version 1: %v, want a conflict", res.Err)
	}
	h.mustApply(setStateVersion(consensus.StateVersionDomains))
	unset, data := h.fsm.Hash(), persist(t, h.fsm)
	if strings.Contains(string(data), "autopilot") {
		t.Fatalf("snapshot writes unset autopilot settings: %s", data)
	}
	if o := s.Get().Autopilot(); o != (consensus.AutopilotOverrides{}) {
		t.Fatalf("unset overrides %+v", o)
	}
	for _, bad := range []*cassnetv1.SetSettings{
		{AutopilotTargetVoters: 4},
		{AutopilotStabilizationSeconds: settings.MaxAutopilotStabilization + 1},
		{AutopilotDeadServerGraceSeconds: settings.MaxAutopilotDeadServerGrace + 1},
	} {
		if res := h.apply(setAutopilot(bad)); !errors.Is(res.Err, consensus.ErrInvalid) {
			t.Errorf("%v: %v, want invalid", bad, res.Err)
		}
	}
	off := false
	h.mustApply(setAutopilot(&cassnetv1.SetSettings{AutopilotTargetVoters: 5, AutopilotStabilizationSeconds: 3, AutopilotCleanupDeadServers: &off}))
	h.mustApply(setAutopilot(&cassnetv1.SetSettings{AutopilotDeadServerGraceSeconds: 45}))
	if h.fsm.Hash() == unset {
		t.Fatal("autopilot settings do not change the hash")
	}
	o := s.Get().Autopilot()
	if o.Voters != 5 || o.StabilizationTime != 3*time.Second || o.DeadServerGrace != 45*time.Second || o.CleanupDeadServers == nil || *o.CleanupDeadServers {
		t.Fatalf("overrides %+v", o)
	}
	base := consensus.AutopilotConfig{Voters: 3, StabilizationTime: 10 * time.Second, DeadServerGrace: 30 * time.Second, MaxTrailingLogs: 250}
	if c := o.Apply(base); c.Voters != 5 || c.StabilizationTime != 3*time.Second || !c.KeepDeadServers || c.MaxTrailingLogs != 250 {
		t.Fatalf("applied %+v", c)
	}
	if s.Get().AuditRetention != 9 {
		t.Fatal("an autopilot setting changed the audit retention")
	}
	g, gs := newHarness(t)
	restore(t, g.fsm, persist(t, h.fsm))
	if g.fsm.Hash() != h.fsm.Hash() || gs.Get() != s.Get() {
		t.Fatal("autopilot settings lost in the snapshot round trip")
	}
}
