package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/fleets"
	"github.com/cassandranet/cassnet/state/servers"
)

// FleetNode is this node's fleet agent (package fleet), as REST shows it:
// the servers whose processes this node runs. Errors carry consensus
// codes (not_found, invalid_argument, conflict). Safe for concurrent use.
type FleetNode interface {
	// Power runs action (start, stop, restart, kill) on a fleet server
	// this node runs.
	Power(ctx context.Context, tenant, server, action string) error
	// Logs answers the server's last n lines of stdout and stderr.
	Logs(tenant, server string, n int) ([]LogLine, error)
	// Follow streams the server's new lines until ctx is done.
	Follow(ctx context.Context, tenant, server string) (<-chan LogLine, error)
	// Process reports the server's process as last sampled from /proc.
	Process(tenant, server string) (ProcessInfo, error)
}

// ProcessInfo is a fleet server's process on the node that runs it.
type ProcessInfo struct {
	Node        string         `json:"node"`
	PID         int            `json:"pid"`
	State       string         `json:"state"`
	Restarts    int            `json:"restarts"`
	Ports       map[string]int `json:"ports"`
	CPUPercent  float64        `json:"cpu_percent"`
	MemoryBytes uint64         `json:"memory_bytes"`
	// Limited says whether cgroup limits apply; LimitError why not.
	Limited    bool      `json:"limited"`
	LimitError string    `json:"limit_error,omitempty"`
	LastExit   string    `json:"last_exit,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
}

// LogLine is one line of a fleet server's output.
type LogLine struct {
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"`
	Text   string    `json:"text"`
}

// fleetView is a fleet as GET answers it: the spec with env values
// redacted, and its status from this node's replica and the gossip.
type fleetView struct {
	Tenant    string      `json:"tenant"`
	Project   string      `json:"project_id"`
	Name      string      `json:"name"`
	Spec      fleets.Spec `json:"spec"`
	Version   uint64      `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	UpdatedBy string      `json:"updated_by"`
	Status    fleetStatus `json:"status"`
}

type fleetStatus struct {
	Servers int `json:"servers"`
	// Want is how many available (starting, ready, reserved) servers the
	// buffer asks for now.
	Want    int                       `json:"want"`
	ByState map[string]int            `json:"by_state"`
	ByNode  map[string]map[string]int `json:"by_node"`
	Errors  []fleets.NodeReport       `json:"errors"`
	// Eligible are the alive nodes that run fleet servers and match the
	// node_selector; Disabled are the alive nodes without --fleet-allow.
	Eligible []string `json:"eligible_nodes"`
	Disabled []string `json:"disabled_nodes"`
}

func (s *Server) viewFleet(f fleets.Fleet) fleetView {
	v := fleetView{Tenant: f.Tenant, Project: f.Project, Name: f.Name, Spec: f.Spec.Redacted(), Version: f.Version,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt, UpdatedBy: f.UpdatedBy}
	st := fleetStatus{ByState: map[string]int{}, ByNode: map[string]map[string]int{}, Eligible: []string{}, Disabled: []string{}}
	for _, srv := range s.state.Servers.Servers(f.Tenant, servers.Filter{Project: f.Project, Fleet: f.Name}) {
		st.Servers++
		st.ByState[srv.State]++
		if st.ByNode[srv.Node] == nil {
			st.ByNode[srv.Node] = map[string]int{}
		}
		st.ByNode[srv.Node][srv.State]++
	}
	st.Want = f.Spec.Want(st.ByState[servers.StateAllocated])
	st.Errors = s.state.Fleets.Reports(f.Tenant, f.Project, f.Name)
	if st.Errors == nil {
		st.Errors = []fleets.NodeReport{}
	}
	for _, m := range s.members.Members() {
		switch {
		case m.Status != "alive":
		case !m.Fleets:
			st.Disabled = append(st.Disabled, m.Name)
		case f.Spec.Matches(m.LabelMap()) && s.state.Servers.Schedulable(m.Name):
			st.Eligible = append(st.Eligible, m.Name)
		}
	}
	slices.Sort(st.Eligible)
	slices.Sort(st.Disabled)
	v.Status = st
	return v
}

// fleetPath reads and checks the {tenant}, {project} and {fleet} of a
// fleet route: a project the principal cannot see is 404.
func (s *Server) fleetPath(w http.ResponseWriter, r *http.Request, p Principal) (tenant, project, name string, ok bool) {
	tenant, project, name = r.PathValue("tenant"), r.PathValue("project"), r.PathValue("fleet")
	if err := consensus.FirstError(consensus.ValidateName("project", project), optFleetName(name)); err != nil {
		s.fail(w, r, err)
		return "", "", "", false
	}
	if !p.canSee(tenant, project) {
		s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
		return "", "", "", false
	}
	return tenant, project, name, true
}

func optFleetName(name string) error {
	if name == "" {
		return nil
	}
	return consensus.ValidateName("fleet", name)
}

// handlePutFleet creates or replaces a fleet. The spec is validated here
// (400 naming the field) and again in Apply.
func (s *Server) handlePutFleet(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, name, ok := s.fleetPath(w, r, p)
	if !ok {
		return
	}
	var body json.RawMessage
	if err := decodeJSON(w, r, min(s.maxBody, fleets.MaxSpecBytes), &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := fleets.ParseSpec(body); err != nil {
		s.fail(w, r, err)
		return
	}
	// The project is checked by Apply (this replica may be behind).
	_, existed := s.state.Fleets.Fleet(tenant, project, name)
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_PutFleet{PutFleet: &cassnetv1.PutFleet{
		Tenant: tenant, Project: project, Name: name, SpecJson: body}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	f, ok := s.state.Fleets.Fleet(tenant, project, name)
	if !ok {
		s.fail(w, r, consensus.NewError(consensus.ErrConflict, "the fleet was applied but is no longer held; read before retrying"))
		return
	}
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	writeJSON(w, code, s.viewFleet(f))
}

func (s *Server) handleGetFleet(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, name, ok := s.fleetPath(w, r, p)
	if !ok || !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	f, found := s.state.Fleets.Fleet(tenant, project, name)
	if !found {
		s.fail(w, r, notFound("fleet %q not found in project %q", name, project))
		return
	}
	writeJSON(w, http.StatusOK, s.viewFleet(f))
}

func (s *Server) handleListFleets(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, _, ok := s.fleetPath(w, r, p)
	if !ok || !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	out := []fleetView{}
	for _, f := range s.state.Fleets.Fleets(tenant, project) {
		out = append(out, s.viewFleet(f))
	}
	writeJSON(w, http.StatusOK, map[string]any{"fleets": out})
}

// handleDeleteFleet removes the fleet and its server records in one
// entry; every node stops the processes it ran for it.
func (s *Server) handleDeleteFleet(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, name, ok := s.fleetPath(w, r, p)
	if !ok {
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_DeleteFleet{DeleteFleet: &cassnetv1.DeleteFleet{
		Tenant: tenant, Project: project, Name: name}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}

// powerRequest is the body of POST .../servers/{server}/power.
type powerRequest struct {
	Action string `json:"action"`
}

const maxPowerBody = 1 << 10

// fleetServer finds a fleet server the principal may see, or answers.
func (s *Server) fleetServer(w http.ResponseWriter, r *http.Request, p Principal) (servers.Server, bool) {
	tenant, id := r.PathValue("tenant"), r.PathValue("server")
	if err := servers.ValidateID("server", id); err != nil {
		s.fail(w, r, err)
		return servers.Server{}, false
	}
	srv, ok := s.state.Servers.Server(tenant, id)
	if !ok || !p.canSee(tenant, srv.Project) {
		s.fail(w, r, notFound("server %q not found", id))
		return servers.Server{}, false
	}
	if srv.Fleet == "" {
		s.fail(w, r, consensus.NewError(consensus.ErrConflict, "server %q is not a fleet server: its process is not run by a node", id))
		return servers.Server{}, false
	}
	return srv, true
}

// handlePower runs a power action on a fleet server, on the node that
// runs it: another node forwards the request there (?scope=local) with
// the caller's credential.
func (s *Server) handlePower(w http.ResponseWriter, r *http.Request, p Principal) {
	var req powerRequest
	if err := decodeJSON(w, r, maxPowerBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch req.Action {
	case "start", "stop", "restart", "kill":
	default:
		s.fail(w, r, badRequest("action: must be start, stop, restart or kill, got %q", req.Action))
		return
	}
	srv, ok := s.fleetServer(w, r, p)
	if !ok {
		return
	}
	if srv.Node != s.node {
		if r.URL.Query().Get("scope") == "local" {
			s.fail(w, r, notFound("server %q is not on this node", srv.ID))
			return
		}
		s.forward(w, r, srv.Node, `{"action":"`+req.Action+`"}`)
		return
	}
	if s.fleets == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "fleets are not enabled on this node"))
		return
	}
	if err := s.fleets.Power(r.Context(), srv.Tenant, srv.ID, req.Action); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": srv.ID, "node": srv.Node, "action": req.Action})
}

// Log tail limits.
const (
	defaultLogLines = 200
	maxLogLines     = 10_000
)

// handleServerLogs answers a fleet server's recent output from any node
// (forwarded to the node that runs it); ?follow=1 streams it as
// Server-Sent Events ("event: line").
func (s *Server) handleServerLogs(w http.ResponseWriter, r *http.Request, p Principal) {
	n := defaultLogLines
	if raw := r.URL.Query().Get("lines"); raw != "" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1 || v > maxLogLines {
			s.fail(w, r, badRequest("lines: must be between 1 and %d", maxLogLines))
			return
		}
		n = v
	}
	follow := r.URL.Query().Get("follow")
	if follow != "" && follow != "1" && follow != "true" {
		s.fail(w, r, badRequest("follow: must be 1 or true"))
		return
	}
	srv, ok := s.fleetServer(w, r, p)
	if !ok {
		return
	}
	if srv.Node != s.node {
		if r.URL.Query().Get("scope") == "local" {
			s.fail(w, r, notFound("server %q is not on this node", srv.ID))
			return
		}
		s.forward(w, r, srv.Node, "")
		return
	}
	if s.fleets == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "fleets are not enabled on this node"))
		return
	}
	if follow != "" {
		s.followLogs(w, r, srv)
		return
	}
	lines, err := s.fleets.Logs(srv.Tenant, srv.ID, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if lines == nil {
		lines = []LogLine{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": srv.ID, "node": srv.Node, "lines": lines})
}

// handleServerProcess answers a fleet server's process (pid, state,
// restarts, CPU and memory sampled from /proc, cgroup limits), from any
// node (forwarded to the node that runs it).
func (s *Server) handleServerProcess(w http.ResponseWriter, r *http.Request, p Principal) {
	srv, ok := s.fleetServer(w, r, p)
	if !ok {
		return
	}
	if srv.Node != s.node {
		if r.URL.Query().Get("scope") == "local" {
			s.fail(w, r, notFound("server %q is not on this node", srv.ID))
			return
		}
		s.forward(w, r, srv.Node, "")
		return
	}
	if s.fleets == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "fleets are not enabled on this node"))
		return
	}
	info, err := s.fleets.Process(srv.Tenant, srv.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
