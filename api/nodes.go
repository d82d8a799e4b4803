package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// nodeView is one node as GET /v1/cluster/nodes shows it: membership, its
// Raft role, the load it gossips, whether it is drained, and its game
// servers by state (from the replicated lifecycle).
type nodeView struct {
	Name        string         `json:"name"`
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	RaftRole    string         `json:"raft_role"`
	Version     string         `json:"version"`
	Schedulable bool           `json:"schedulable"`
	Load        *nodeLoad      `json:"load"`
	Servers     map[string]int `json:"servers"`
	Players     uint64         `json:"players"`
	// Labels are the node's --node-label labels; Fleets whether it runs
	// fleet servers (--fleet-allow set).
	Labels map[string]string `json:"labels"`
	Fleets bool              `json:"fleets"`
}

type nodeLoad struct {
	CPUPercent    uint8 `json:"cpu_percent"`
	MemoryPercent uint8 `json:"memory_percent"`
}

func (s *Server) handleListNodes(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Stale, false) {
		return
	}
	roles := s.raftRoles()
	ms := s.members.Members()
	out := make([]nodeView, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.Name] = true
		out = append(out, s.nodeOf(m.Name, m, roles))
	}
	// Drained nodes that are no longer members still show, so that they
	// can be uncordoned.
	for _, d := range s.state.Servers.Drained() {
		if !seen[d.Node] {
			out = append(out, s.nodeOf(d.Node, mesh.Member{Status: "gone"}, roles))
		}
	}
	slices.SortFunc(out, func(a, b nodeView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, struct {
		Nodes []nodeView `json:"nodes"`
	}{out})
}

func (s *Server) nodeOf(name string, m mesh.Member, roles map[string]string) nodeView {
	v := nodeView{Name: name, ID: m.ID, Status: string(m.Status), RaftRole: roles[m.ID], Version: m.Version,
		Schedulable: s.state.Servers.Schedulable(name), Servers: map[string]int{},
		Labels: m.LabelMap(), Fleets: m.Fleets}
	if v.RaftRole == "" {
		v.RaftRole = "none"
	}
	if m.Load != (mesh.Load{}) {
		v.Load = &nodeLoad{CPUPercent: m.Load.CPU, MemoryPercent: m.Load.Memory}
	}
	for _, srv := range s.state.Servers.OnNode(name) {
		v.Servers[srv.State]++
		v.Players += uint64(srv.Players)
	}
	return v
}

// knownNode reports whether name is a mesh member or a drained node.
func (s *Server) knownNode(name string) bool {
	for _, m := range s.members.Members() {
		if m.Name == name {
			return true
		}
	}
	return !s.state.Servers.Schedulable(name)
}

func (s *Server) setSchedulable(w http.ResponseWriter, r *http.Request, p Principal, schedulable bool) {
	node := r.PathValue("node")
	if !s.knownNode(node) {
		s.fail(w, r, notFound("node %q is not a member", node))
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_SetNodeSchedulable{
		SetNodeSchedulable: &cassnetv1.SetNodeSchedulable{Node: node, Schedulable: schedulable}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, s.nodeOf(node, s.member(node), s.raftRoles()))
}

func (s *Server) member(name string) mesh.Member {
	for _, m := range s.members.Members() {
		if m.Name == name {
			return m
		}
	}
	return mesh.Member{Status: "gone"}
}

// handleDrainNode drains a node: no new allocations or servers on it, and
// its game servers get a drain event.
func (s *Server) handleDrainNode(w http.ResponseWriter, r *http.Request, p Principal) {
	s.setSchedulable(w, r, p, false)
}

// handleUncordonNode makes a drained node schedulable again.
func (s *Server) handleUncordonNode(w http.ResponseWriter, r *http.Request, p Principal) {
	s.setSchedulable(w, r, p, true)
}
