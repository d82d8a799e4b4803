package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// allocateRequest is the body of POST /v1/tenants/{tenant}/allocations.
type allocateRequest struct {
	ProjectID string             `json:"project_id"`
	Fleet     string             `json:"fleet"`
	Selectors []allocateSelector `json:"selectors"`
	Strategy  string             `json:"strategy"`
	Metadata  struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	IdempotencyKey string `json:"idempotency_key"`
}

type allocateSelector struct {
	Labels         map[string]string `json:"labels"`
	State          string            `json:"state"`
	MinFreePlayers uint32            `json:"min_free_players"`
}

// maxAllocateBody bounds an allocation request: 16 selectors and 16 KiB
// of metadata fit well within it.
const maxAllocateBody = 48 << 10

// newAllocationID returns "alloc_" and 16 random hex digits.
func newAllocationID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("allocation id: %w", err)
	}
	return "alloc_" + hex.EncodeToString(b[:]), nil
}

// handleAllocate hands out a server for a match. The choice is made in
// the state machine, so any node can take the request; a retry with the
// same idempotency key (even on another node, after a timeout) answers
// 200 with the first allocation and never a second server.
func (s *Server) handleAllocate(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req allocateRequest
	if err := decodeJSON(w, r, min(s.maxBody, maxAllocateBody), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	// before_allocation may reject the request or amend it (its
	// selectors, strategy, labels: a candidate filter); what it answers
	// is scoped and validated below like the client's request.
	caller := p.hookCaller(tenant)
	hookReq, err := runBefore(r.Context(), s, hooks.BeforeAllocation, caller, &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	project, err := p.scopeProject(req.ProjectID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := newAllocationID()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.Allocate{
		Tenant: tenant, Project: project, Fleet: req.Fleet, Strategy: req.Strategy,
		Labels: req.Metadata.Labels, Annotations: req.Metadata.Annotations,
		IdempotencyKey: req.IdempotencyKey, AllocationId: id,
	}
	for _, sel := range req.Selectors {
		op.Selectors = append(op.Selectors, &cassnetv1.Allocate_Selector{
			Labels: sel.Labels, State: sel.State, MinFreePlayers: sel.MinFreePlayers})
	}
	if err := servers.ValidateAllocate(op); err != nil {
		s.fail(w, r, err)
		return
	}
	if project != "" {
		if _, ok := s.state.Tenancy.Project(tenant, project); !ok {
			s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
			return
		}
	}
	if err := s.scoreAllocation(r.Context(), caller, req, op); err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_Allocate{Allocate: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	if a, ok := s.state.Servers.Allocation(tenant, id); ok {
		s.metrics.allocations.Inc()
		s.runAfter(r.Context(), hooks.AfterAllocation, caller, hookReq, a)
		w.Header().Set("Location", "/v1/tenants/"+tenant+"/allocations/"+id)
		writeJSON(w, http.StatusCreated, a)
		return
	}
	if req.IdempotencyKey != "" {
		if a, ok := s.state.Servers.ByIdempotencyKey(tenant, req.IdempotencyKey); ok && p.canSee(tenant, a.Project) {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	// Applied, yet neither is there: pruned at once, or the tenant was
	// deleted in between. Say so rather than guess.
	s.fail(w, r, consensus.NewError(consensus.ErrConflict, "the allocation was applied but is no longer held; read before retrying"))
}

func (s *Server) handleGetAllocation(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("allocation")
	a, ok := s.state.Servers.Allocation(tenant, id)
	if !ok || !p.canSee(tenant, a.Project) {
		s.fail(w, r, notFound("allocation %q not found in tenant %q", id, tenant))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// Listing limits.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// listLimit parses ?limit=, 1 to maxListLimit.
func listLimit(raw string) (int, error) {
	v, ok := queryValue(raw, "limit")
	if !ok {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, badRequest("limit: must be between 1 and %d", maxListLimit)
	}
	return n, nil
}

func (s *Server) handleListAllocations(w http.ResponseWriter, r *http.Request, p Principal) {
	raw := r.URL.RawQuery
	var f servers.Filter
	f.Project, _ = queryValue(raw, "project_id")
	f.Fleet, _ = queryValue(raw, "fleet")
	f.ServerID, _ = queryValue(raw, "server_id")
	f.Node, _ = queryValue(raw, "node")
	limit, err := listLimit(raw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Project, err = p.scopeProject(f.Project); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	tenant := r.PathValue("tenant")
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return
	}
	list := s.state.Servers.Allocations(tenant, f)
	if len(list) > limit {
		list = list[:limit]
	}
	writeJSON(w, http.StatusOK, struct {
		Allocations []servers.Allocation `json:"allocations"`
	}{nonNil(list)})
}

// handleServerSummary counts a project's servers by state, fleet and
// node, with players and capacity.
func (s *Server) handleServerSummary(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project := r.PathValue("tenant"), r.PathValue("project")
	if !p.canSee(tenant, project) {
		s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
		return
	}
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	if _, ok := s.state.Tenancy.Project(tenant, project); !ok {
		s.fail(w, r, notFound("project %q not found in tenant %q", project, tenant))
		return
	}
	writeJSON(w, http.StatusOK, s.state.Servers.Summarize(tenant, project))
}
