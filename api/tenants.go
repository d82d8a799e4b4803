package api

import (
	"net/http"
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/tenancy"
)

// Audit listing limits.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// createNameRequest is the body of POST /v1/tenants and of POST
// /v1/tenants/{tenant}/projects.
type createNameRequest struct {
	Name string `json:"name"`
}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request, p Principal) {
	var req createNameRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := consensus.ValidateName("name", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{
		CreateTenant: &cassnetv1.CreateTenant{Name: req.Name},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, ok := s.state.Tenancy.Tenant(req.Name)
	if !ok { // deleted again between the write and this read
		s.fail(w, r, notFound("tenant %q no longer exists", req.Name))
		return
	}
	setIndexHeader(w, idx)
	w.Header().Set("Location", "/v1/tenants/"+t.Name)
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Tenants []tenancy.Tenant `json:"tenants"`
	}{nonNil(s.state.Tenancy.Tenants())})
}

func (s *Server) handleGetTenant(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	name := r.PathValue("tenant")
	t, ok := s.state.Tenancy.Tenant(name)
	if !ok {
		s.fail(w, r, notFound("tenant %q not found", name))
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) handleDeleteTenant(w http.ResponseWriter, r *http.Request, p Principal) {
	name := r.PathValue("tenant")
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_DeleteTenant{
		DeleteTenant: &cassnetv1.DeleteTenant{Name: name},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleCreateProject(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant := r.PathValue("tenant")
	var req createNameRequest
	if err := decodeJSON(w, r, s.maxBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := consensus.ValidateName("name", req.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateProject{
		CreateProject: &cassnetv1.CreateProject{Tenant: tenant, Name: req.Name},
	}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proj, ok := s.state.Tenancy.Project(tenant, req.Name)
	if !ok {
		s.fail(w, r, notFound("project %q no longer exists", req.Name))
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusCreated, proj)
}

func (s *Server) handleListProjects(w http.ResponseWriter, r *http.Request, _ Principal) {
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	projects, err := s.state.Tenancy.Projects(r.PathValue("tenant"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Projects []tenancy.Project `json:"projects"`
	}{nonNil(projects)})
}

// handleAudit lists a tenant's audit entries, newest first. It answers for
// deleted tenants too, since their deletion is itself audited.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.listAudit(w, r, r.PathValue("tenant"))
}

// handleClusterAudit lists every audit entry, newest first, including
// those of no tenant (operator tokens, settings, signing keys, and
// authentication failures of unknown credentials).
func (s *Server) handleClusterAudit(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.listAudit(w, r, "")
}

// listAudit answers an audit listing for tenant ("" for all).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, tenant string) {
	limit := defaultAuditLimit
	if v, ok := queryValue(r.URL.RawQuery, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, r, badRequest("limit: must be a positive integer"))
			return
		}
		limit = min(n, maxAuditLimit)
	}
	if !s.prepareRead(w, r, consensus.Default, true) {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []audit.Entry `json:"entries"`
	}{nonNil(s.state.Audit.Entries(tenant, limit))})
}

// prepareRead parses the read options and runs s.read. On failure it has
// written the error and returns false.
func (s *Server) prepareRead(w http.ResponseWriter, r *http.Request, def consensus.Consistency, blocking bool) bool {
	o, err := parseRead(r, def, blocking)
	if err == nil {
		err = s.read(r.Context(), w, o)
	}
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
