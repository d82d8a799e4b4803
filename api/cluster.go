package api

import (
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/settings"
)

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ Principal) {
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Node   string `json:"node"`
	}{"ok", s.node})
}

var readyBody = []byte(`{"ready":true}` + "\n")

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request, _ Principal) {
	if !s.store.Ready() {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady,
			"the node has not yet found a leader or caught up with it"))
		return
	}
	writeRaw(w, http.StatusOK, readyBody)
}

func (s *Server) handleVersion(w http.ResponseWriter, _ *http.Request, _ Principal) {
	writeJSON(w, http.StatusOK, struct {
		Version        string `json:"version"`
		Node           string `json:"node"`
		Go             string `json:"go"`
		CommandVersion uint32 `json:"command_version"`
	}{s.version, s.node, runtime.Version(), consensus.CommandVersion})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.metricsHandler.ServeHTTP(w, r)
}

// memberView is one entry of GET /v1/members.
type memberView struct {
	Name      string          `json:"name"`
	ID        string          `json:"id"`
	Addresses memberAddresses `json:"addresses"`
	Status    string          `json:"status"`
	Role      string          `json:"role"`
	RaftRole  string          `json:"raft_role"` // leader, voter, nonvoter or none
	Version   string          `json:"version"`
}

type memberAddresses struct {
	Gossip string `json:"gossip"`
	Raft   string `json:"raft"`
	HTTP   string `json:"http"`
	P2P    string `json:"p2p"`
	GRPC   string `json:"grpc"`
}

// handleMembers joins the gossip view with the Raft configuration by
// node ID, so operators see in one list who is alive and who votes.
// raftRoles maps each Raft server ID to leader, voter or nonvoter.
func (s *Server) raftRoles() map[string]string {
	roles := make(map[string]string)
	for _, srv := range s.store.RaftInfo().Servers {
		role := srv.Suffrage
		if srv.Leader {
			role = "leader"
		}
		roles[srv.ID] = role
	}
	return roles
}

func (s *Server) handleMembers(w http.ResponseWriter, _ *http.Request, _ Principal) {
	roles := s.raftRoles()
	ms := s.members.Members()
	out := make([]memberView, 0, len(ms))
	for _, m := range ms {
		role, ok := roles[m.ID]
		if !ok {
			role = "none"
		}
		out = append(out, memberView{
			Name: m.Name, ID: m.ID, Status: string(m.Status), Role: m.Role,
			RaftRole: role, Version: m.Version,
			Addresses: memberAddresses{
				Gossip: m.GossipAddr, Raft: m.RaftAddr, HTTP: m.HTTPAddr,
				P2P: m.P2PAddr, GRPC: m.GRPCAddr,
			},
		})
	}
	slices.SortFunc(out, func(a, b memberView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, struct {
		Members []memberView `json:"members"`
	}{out})
}

func (s *Server) handleRaft(w http.ResponseWriter, _ *http.Request, _ Principal) {
	info := s.store.RaftInfo()
	info.StateHash = s.store.StateHash()
	info.Servers = nonNil(info.Servers)
	writeJSON(w, http.StatusOK, info)
}

// handleRemovePeer removes a server from the Raft configuration
// (cassnet operator raft remove-peer).
func (s *Server) handleRemovePeer(w http.ResponseWriter, r *http.Request, p Principal) {
	id, err := s.store.RemovePeer(r.Context(), r.PathValue("peer"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "raft peer removed", "actor", p.Actor(), "peer", id)
	writeJSON(w, http.StatusOK, struct {
		Removed string `json:"removed"`
	}{id})
}

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	writeJSON(w, http.StatusOK, s.state.Settings.Get())
}

// settingsRequest is the body of PUT /v1/cluster/settings. Absent fields
// are unchanged; at least one must be given.
type settingsRequest struct {
	AuditRetention       *uint32 `json:"audit_retention"`
	MaxSessionTTLSeconds *uint32 `json:"max_session_ttl_seconds"`
}

func (s *Server) handlePutSettings(w http.ResponseWriter, r *http.Request, p Principal) {
	var req settingsRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.AuditRetention == nil && req.MaxSessionTTLSeconds == nil {
		s.fail(w, r, badRequest("audit_retention or max_session_ttl_seconds: one is required"))
		return
	}
	var set cassnetv1.SetSettings
	if req.AuditRetention != nil {
		if n := *req.AuditRetention; n < 1 || n > settings.MaxAuditRetention {
			s.fail(w, r, badRequest("audit_retention: must be between 1 and %d", settings.MaxAuditRetention))
			return
		}
		set.AuditRetention = *req.AuditRetention
	}
	if req.MaxSessionTTLSeconds != nil {
		if n := *req.MaxSessionTTLSeconds; n < 60 || n > settings.MaxSessionTTLLimit {
			s.fail(w, r, badRequest("max_session_ttl_seconds: must be between 60 and %d", settings.MaxSessionTTLLimit))
			return
		}
		set.MaxSessionTtlSeconds = *req.MaxSessionTTLSeconds
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_SetSettings{
		SetSettings: &set,
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, s.state.Settings.Get())
}

// handleLeave starts a graceful leave of this node and answers 202: the
// leave continues after the response.
func (s *Server) handleLeave(w http.ResponseWriter, r *http.Request, p Principal) {
	s.log.InfoContext(r.Context(), "leave requested", "actor", p.Actor())
	if err := s.agent.Leave(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Leaving bool   `json:"leaving"`
		Node    string `json:"node"`
	}{true, s.node})
}
