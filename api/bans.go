package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/bans"
)

// createBanRequest is the body of POST /v1/tenants/{tenant}/bans.
type createBanRequest struct {
	PlayerID string `json:"player_id"`
	Reason   string `json:"reason"`
	// DurationSeconds is absent or 0 for a permanent ban.
	DurationSeconds *int64 `json:"duration_seconds,omitempty"`
	// ProjectID limits the ban to one project; absent means tenant-wide.
	ProjectID string `json:"project_id,omitempty"`
}

// maxBanSeconds mirrors bans.MaxDuration for the early check.
var maxBanSeconds = int64(bans.MaxDuration / time.Second)

func (req *createBanRequest) validate() error {
	if err := consensus.ValidatePlayerID(req.PlayerID); err != nil {
		return err
	}
	if err := bans.ValidateReason(req.Reason); err != nil {
		return err
	}
	if req.ProjectID != "" {
		if err := consensus.ValidateName("project_id", req.ProjectID); err != nil {
			return err
		}
	}
	if d := req.DurationSeconds; d != nil && (*d < 0 || *d > maxBanSeconds) {
		return badRequest("duration_seconds: must be between 0 (permanent) and %d", maxBanSeconds)
	}
	return nil
}

func (s *Server) handleCreateBan(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req createBanRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	caller := p.hookCaller(tenant)
	hookReq, err := runBefore(r.Context(), s, hooks.BeforeBanCreate, caller, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := req.validate(); err != nil { // a plugin may have amended it
		s.fail(w, r, err)
		return
	}
	id, err := bans.NewID()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cb := &cassnetv1.CreateBan{
		Id: id, Tenant: tenant, Project: req.ProjectID,
		PlayerId: req.PlayerID, Reason: req.Reason,
	}
	if req.DurationSeconds != nil {
		cb.DurationSeconds = *req.DurationSeconds
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: cb}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ban, ok := s.state.Bans.Ban(tenant, id)
	if !ok { // the tenant was deleted between the write and this read
		s.fail(w, r, notFound("ban %q no longer exists", id))
		return
	}
	s.runAfter(r.Context(), hooks.AfterBanCreate, caller, hookReq, ban)
	setIndexHeader(w, idx)
	w.Header().Set("Location", "/v1/tenants/"+tenant+"/bans/"+id)
	writeJSON(w, http.StatusCreated, ban)
}

func (s *Server) handleListBans(w http.ResponseWriter, r *http.Request, _ Principal) {
	var f bans.Filter
	raw := r.URL.RawQuery
	f.PlayerID, _ = queryValue(raw, "player_id")
	active := false
	if v, ok := queryValue(raw, "active"); ok {
		var err error
		if active, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, badRequest("active: must be true or false"))
			return
		}
	}
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	if active { // after a blocking query's wait, not before it
		now := s.now()
		f.ActiveAt = &now
	}
	list, err := s.state.Bans.Bans(r.PathValue("tenant"), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Bans []bans.Ban `json:"bans"`
	}{nonNil(list)})
}

func (s *Server) handleGetBan(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("ban")
	ban, ok := s.state.Bans.Ban(tenant, id)
	if !ok {
		s.fail(w, r, notFound("ban %q not found in tenant %q", id, tenant))
		return
	}
	writeJSON(w, http.StatusOK, ban)
}

// handleRevokeBan revokes a ban and answers with it, revoked_at set.
func (s *Server) handleRevokeBan(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, id := r.PathValue("tenant"), r.PathValue("ban")
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_RevokeBan{
		RevokeBan: &cassnetv1.RevokeBan{Tenant: tenant, Id: id},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ban, ok := s.state.Bans.Ban(tenant, id)
	if !ok {
		s.fail(w, r, notFound("ban %q no longer exists", id))
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, ban)
}

// notBanned is the whole answer for the common case, pre-encoded.
var notBanned = []byte(`{"banned":false,"ban":null}` + "\n")

// banCheck is the answer of the ban check when the player is banned.
type banCheck struct {
	Banned bool      `json:"banned"`
	Ban    *bans.Ban `json:"ban"`
}

// handleBanCheck is the game servers' hot path: is this player banned in
// this tenant, and in this project if ?project_id is given? It is a stale
// read of the local state machine unless ?default or ?consistent asks for
// more. Tenant-wide bans apply to every project; a project ban applies only
// when that project_id is asked about. A game-server key scoped to a
// project always asks about its project.
func (s *Server) handleBanCheck(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Stale, false) {
		return
	}
	tenant, player := r.PathValue("tenant"), r.PathValue("player")
	project, _ := queryValue(r.URL.RawQuery, "project_id")
	project, err := p.scopeProject(project) // a scoped key checks its project
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ban, banned := s.state.Bans.ActiveBan(tenant, player, project, s.now())
	if !banned {
		// Unknown names are a client misconfiguration, not "not banned".
		if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
			s.fail(w, r, notFound("tenant %q not found", tenant))
			return
		}
		if _, ok := s.state.Tenancy.Project(tenant, project); project != "" && !ok {
			s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
			return
		}
		writeRaw(w, http.StatusOK, notBanned)
		return
	}
	s.writeBanned(w, r, ban)
}

// writeBanned is split out so that only the banned path moves the ban to
// the heap.
func (s *Server) writeBanned(w http.ResponseWriter, r *http.Request, ban bans.Ban) {
	body, err := json.Marshal(banCheck{Banned: true, Ban: &ban})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, append(body, '\n'))
}
