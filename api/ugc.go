package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/ugc"
	"github.com/cassandranet/cassnet/ugc/blob"
)

// UGCBlobs is the byte side of user-generated content, package ugc/blob's
// Service (or a holder that answers ErrUGCUnavailable until the node has
// built one). The API creates uploads and signs downloads through it; the
// node wires its completion callbacks to PublishUpload and RejectUpload.
//
// Concurrency: every method may be called from any number of goroutines.
type UGCBlobs interface {
	// Create creates a tus upload resource for u and returns its URL.
	Create(ctx context.Context, u blob.Upload) (string, error)
	// Handler serves the tus endpoint and the signed downloads, under
	// blob.UploadsPath and blob.BlobsPath.
	Handler() http.Handler
	// DownloadURL signs a download of ref for ttl.
	DownloadURL(ctx context.Context, ref blob.Ref, filename string, ttl time.Duration) (string, error)
	// Delete deletes a blob nothing references any more (by its holder).
	Delete(ctx context.Context, ref blob.Ref) error
}

// ErrUGCUnavailable is what a UGCBlobs holder answers before the node has
// built its blob service; the API answers it 503.
var ErrUGCUnavailable = errors.New("ugc: the blob service is not ready")

// Limits of the UGC request bodies.
const (
	maxUGCItemBody  = 24 << 10
	maxUGCSmallBody = 4 << 10
	ugcDownloadTTL  = 15 * time.Minute
)

// ugcItemRequest is the body of POST .../ugc/items and PATCH
// .../ugc/items/{item}; on PATCH, absent fields stay as they are.
type ugcItemRequest struct {
	Title       *string            `json:"title"`
	Description *string            `json:"description"`
	Tags        *[]string          `json:"tags"`
	Metadata    *map[string]string `json:"metadata"`
	Visibility  *string            `json:"visibility"`
}

// DecodeUGCItem decodes and checks an item body (on create, a title is
// required and the visibility defaults to public). Tags are lowercased
// before they are checked.
func DecodeUGCItem(data []byte, create bool) (ugcItemRequest, error) {
	var req ugcItemRequest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, decodeError(err, int64(len(data)+1))
	}
	if dec.More() {
		return req, errorf(http.StatusBadRequest, codeInvalidJSON, "unexpected data after the JSON value")
	}
	return req, req.check(create)
}

func (req *ugcItemRequest) check(create bool) error {
	if req.Tags != nil {
		for i, t := range *req.Tags {
			(*req.Tags)[i] = strings.ToLower(t)
		}
	}
	if create {
		if req.Title == nil || *req.Title == "" {
			return badRequest("title: is required")
		}
		if req.Visibility == nil {
			v := ugc.VisibilityPublic
			req.Visibility = &v
		}
	}
	if req.Title != nil && *req.Title == "" {
		return badRequest("title: must not be empty")
	}
	if req.Visibility != nil {
		if err := ugc.ValidateVisibility(*req.Visibility); err != nil {
			return err
		}
	}
	var tags []string
	var meta map[string]string
	if req.Tags != nil {
		tags = *req.Tags
	}
	if req.Metadata != nil {
		meta = *req.Metadata
	}
	return ugc.ValidateItemFields(deref(req.Title), deref(req.Description), tags, meta)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newUGCID(prefix string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ugc id: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// ugcProject checks the route's project: it must exist and the caller must
// see it (a scoped key or a project session sees only its own), else 404.
func (s *Server) ugcProject(r *http.Request, p Principal) (tenant, project string, err error) {
	tenant, project = r.PathValue("tenant"), r.PathValue("project")
	if !p.canSee(tenant, project) {
		return "", "", notFound("project %q not found in tenant %q", project, tenant)
	}
	if _, ok := s.state.Tenancy.Project(tenant, project); !ok {
		return "", "", notFound("project %q not found in tenant %q", project, tenant)
	}
	return tenant, project, nil
}

// ugcItem looks up the route's item for reading: 404 if it does not exist
// or p may not see it.
func (s *Server) ugcItem(r *http.Request, p Principal) (ugc.Item, error) {
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		return ugc.Item{}, err
	}
	id := r.PathValue("item")
	it, ok := s.state.UGC.Item(tenant, project, id)
	if !ok || !p.ugcVisible(&it) {
		return ugc.Item{}, notFound("item %q not found", id)
	}
	return it, nil
}

// ugcOwnItem looks up the route's item for a change: 404 or 403 by
// Principal.ugcWrite.
func (s *Server) ugcOwnItem(r *http.Request, p Principal) (ugc.Item, error) {
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		return ugc.Item{}, err
	}
	id := r.PathValue("item")
	it, ok := s.state.UGC.Item(tenant, project, id)
	if !ok {
		return ugc.Item{}, notFound("item %q not found", id)
	}
	return it, p.ugcWrite(&it)
}

// hookRunner is the add-on hooks the UGC request paths call:
// Config.Hooks (hooks.Noop{} when unset).
func (s *Server) hookRunner() hooks.Runner { return s.hooks }

func (s *Server) hookCaller(p Principal, tenant, project string) hooks.Caller {
	kind := map[string]string{PrincipalAPIKey: "api_key"}[p.Kind]
	if kind == "" {
		kind = p.Kind
	}
	return hooks.Caller{Tenant: tenant, Project: project, Kind: kind, ID: p.ID, Role: p.Role}
}

func (s *Server) handleCreateUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var raw json.RawMessage
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCItemBody), &raw); err != nil {
		s.fail(w, r, err)
		return
	}
	caller := s.hookCaller(p, tenant, project)
	amended, err := s.hookRunner().Before(r.Context(), hooks.BeforeUGCItemCreate, caller, raw)
	if err != nil {
		s.fail(w, r, hookError(r.Context(), err))
		return
	}
	req, err := DecodeUGCItem(amended, true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := newUGCID("itm_")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.CreateUGCItem{Tenant: tenant, Project: project, Id: id, Owner: p.ugcOwner(),
		Title: *req.Title, Description: deref(req.Description), Visibility: *req.Visibility}
	if req.Tags != nil {
		op.Tags = *req.Tags
	}
	if req.Metadata != nil {
		op.Metadata = *req.Metadata
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateUgcItem{CreateUgcItem: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	it, ok := s.state.UGC.Item(tenant, project, id)
	if !ok {
		s.fail(w, r, consensus.NewError(consensus.ErrConflict, "the item was created but is no longer held (deleted since?)"))
		return
	}
	body := ugcItemJSON(it)
	if res, err := json.Marshal(body); err == nil {
		s.hookRunner().After(r.Context(), hooks.AfterUGCItemCreate, caller, amended, res)
	}
	w.Header().Set("Location", "/v1/tenants/"+tenant+"/projects/"+project+"/ugc/items/"+id)
	writeJSON(w, http.StatusCreated, body)
}

// ugcItemView is an item as the API answers it.
type ugcItemView struct {
	ugc.Item
	Tags     []string          `json:"tags"`
	Metadata map[string]string `json:"metadata"`
}

func ugcItemJSON(it ugc.Item) ugcItemView {
	return ugcItemView{Item: it, Tags: nonNil(it.Tags), Metadata: nonNilMap(it.Metadata)}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (s *Server) handleGetUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	it, err := s.ugcItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ugcItemJSON(it))
}

func (s *Server) handlePatchUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	it, err := s.ugcOwnItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var raw json.RawMessage
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCItemBody), &raw); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := DecodeUGCItem(raw, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.UpdateUGCItem{Tenant: it.Tenant, Project: it.Project, Id: it.ID,
		Title: req.Title, Description: req.Description, Visibility: req.Visibility}
	if req.Tags != nil {
		op.SetTags, op.Tags = true, *req.Tags
	}
	if req.Metadata != nil {
		op.SetMetadata, op.Metadata = true, *req.Metadata
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_UpdateUgcItem{UpdateUgcItem: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	now, _ := s.state.UGC.Item(it.Tenant, it.Project, it.ID)
	writeJSON(w, http.StatusOK, ugcItemJSON(now))
}

func (s *Server) handleDeleteUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	it, err := s.ugcOwnItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_DeleteUgcItem{
		DeleteUgcItem: &cassnetv1.DeleteUGCItem{Tenant: it.Tenant, Project: it.Project, Id: it.ID}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	w.WriteHeader(http.StatusNoContent)
}
