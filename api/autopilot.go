package api

import (
	"net/http"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/settings"
)

// autopilotView is the body of GET /v1/operator/autopilot: the
// configuration in force on the leader's rules, and which values the
// replicated settings set (the rest are this node's flags).
type autopilotView struct {
	StabilizationSeconds   uint32          `json:"stabilization_seconds"`
	DeadServerGraceSeconds uint32          `json:"dead_server_grace_seconds"`
	TargetVoters           int             `json:"target_voters"`
	CleanupDeadServers     bool            `json:"cleanup_dead_servers"`
	Replicated             autopilotFields `json:"replicated"`
}

// autopilotFields are the autopilot settings as JSON, each optional: the
// body of PUT /v1/operator/autopilot, and which ones are replicated.
type autopilotFields struct {
	StabilizationSeconds   *uint32 `json:"stabilization_seconds,omitempty"`
	DeadServerGraceSeconds *uint32 `json:"dead_server_grace_seconds,omitempty"`
	TargetVoters           *uint32 `json:"target_voters,omitempty"`
	CleanupDeadServers     *bool   `json:"cleanup_dead_servers,omitempty"`
}

func (s *Server) autopilotView() autopilotView {
	c := s.store.Autopilot()
	set := s.state.Settings.Get()
	v := autopilotView{
		StabilizationSeconds:   uint32(c.StabilizationTime.Seconds()),
		DeadServerGraceSeconds: uint32(c.DeadServerGrace.Seconds()),
		TargetVoters:           c.Voters,
		CleanupDeadServers:     !c.KeepDeadServers,
	}
	if n := set.AutopilotStabilizationSeconds; n != 0 {
		v.Replicated.StabilizationSeconds = &n
	}
	if n := set.AutopilotDeadServerGraceSeconds; n != 0 {
		v.Replicated.DeadServerGraceSeconds = &n
	}
	if n := set.AutopilotTargetVoters; n != 0 {
		v.Replicated.TargetVoters = &n
	}
	if set.AutopilotCleanupDeadServers != settings.CleanupUnset {
		on := set.AutopilotCleanupDeadServers == settings.CleanupOn
		v.Replicated.CleanupDeadServers = &on
	}
	return v
}

func (s *Server) handleGetAutopilot(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	writeJSON(w, http.StatusOK, s.autopilotView())
}

// handlePutAutopilot sets autopilot settings for the whole cluster
// (cassnet operator autopilot set). Absent fields are unchanged.
func (s *Server) handlePutAutopilot(w http.ResponseWriter, r *http.Request, p Principal) {
	var req autopilotFields
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var set cassnetv1.SetSettings
	if n := req.StabilizationSeconds; n != nil {
		if *n < 1 || *n > settings.MaxAutopilotStabilization {
			s.fail(w, r, badRequest("stabilization_seconds: must be between 1 and %d", settings.MaxAutopilotStabilization))
			return
		}
		set.AutopilotStabilizationSeconds = *n
	}
	if n := req.DeadServerGraceSeconds; n != nil {
		if *n < 1 || *n > settings.MaxAutopilotDeadServerGrace {
			s.fail(w, r, badRequest("dead_server_grace_seconds: must be between 1 and %d", settings.MaxAutopilotDeadServerGrace))
			return
		}
		set.AutopilotDeadServerGraceSeconds = *n
	}
	if n := req.TargetVoters; n != nil {
		if v := *n; v != 1 && v != 3 && v != 5 && v != 7 {
			s.fail(w, r, badRequest("target_voters: must be 1, 3, 5 or 7"))
			return
		}
		set.AutopilotTargetVoters = *n
	}
	set.AutopilotCleanupDeadServers = req.CleanupDeadServers
	if req == (autopilotFields{}) {
		s.fail(w, r, badRequest("stabilization_seconds, dead_server_grace_seconds, target_voters or cleanup_dead_servers: one is required"))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_SetSettings{SetSettings: &set}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, s.autopilotView())
}
