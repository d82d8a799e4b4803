package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/table"
	"github.com/cassandranet/cassnet/state/ugc"
	"github.com/cassandranet/cassnet/ugc/blob"
)

// ugcVersionRequest is the body of POST .../ugc/items/{item}/versions.
type ugcVersionRequest struct {
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
}

// ugcVersionAnswer is its answer.
type ugcVersionAnswer struct {
	VersionID string    `json:"version_id"`
	UploadURL string    `json:"upload_url"`
	ExpiresAt time.Time `json:"expires_at"`
	Protocol  string    `json:"protocol"`
}

func (req *ugcVersionRequest) check() error {
	if req.Size <= 0 {
		return badRequest("size: must be at least 1")
	}
	return consensus.FirstError(ugc.ValidateFilename(req.Filename), ugc.ValidateSHA256(req.SHA256),
		ugc.ValidateContentType("content_type", req.ContentType, false))
}

func (s *Server) ugcBlobs() (UGCBlobs, error) {
	if s.ugc == nil {
		return nil, ErrUGCUnavailable
	}
	return s.ugc, nil
}

// handleCreateUGCVersion opens an upload: one Raft write records the
// pending version (which enforces the quotas), then the blob service
// creates the tus resource. If that fails, the version is rejected.
func (s *Server) handleCreateUGCVersion(w http.ResponseWriter, r *http.Request, p Principal) {
	it, err := s.ugcOwnItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req ugcVersionRequest
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCSmallBody), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := req.check(); err != nil {
		s.fail(w, r, err)
		return
	}
	set := s.state.UGC.Settings(it.Tenant, it.Project)
	if err := ugc.CheckUpload(set, req.Size, req.ContentType); err != nil {
		s.fail(w, r, err)
		return
	}
	blobs, err := s.ugcBlobs()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := newUGCID("ver_")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	expires := s.now().Add(set.UploadTTL()).UTC().Truncate(time.Second)
	op := &cassnetv1.CreateUGCVersion{Tenant: it.Tenant, Project: it.Project, Item: it.ID, Id: id,
		Filename: req.Filename, Size: req.Size, Sha256: req.SHA256, ContentType: req.ContentType,
		ExpiresUnixNano: expires.UnixNano(), Store: set.Store}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_CreateUgcVersion{CreateUgcVersion: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	u := blob.Upload{Tenant: it.Tenant, Project: it.Project, Item: it.ID, Version: id, Owner: it.Owner,
		Size: req.Size, SHA256: req.SHA256, ContentType: req.ContentType, Filename: req.Filename,
		ExpiresAt: expires, Store: set.Store}
	url, err := blobs.Create(r.Context(), u)
	if err != nil {
		s.log.Warn("ugc: creating the upload failed", "item", it.ID, "version", id, "err", err)
		s.rejectVersion(context.WithoutCancel(r.Context()), u, "the upload could not be created on the node")
		switch {
		case errors.Is(err, ErrUGCUnavailable), errors.Is(err, blob.ErrNoS3):
			s.fail(w, r, err)
		case errors.Is(err, blob.ErrTooLarge):
			s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, ugc.ErrTooLarge.Code, "the node accepts uploads of at most its configured size"))
		default:
			s.fail(w, r, errorf(http.StatusInternalServerError, codeInternal, "the upload could not be created"))
		}
		return
	}
	writeJSON(w, http.StatusCreated, ugcVersionAnswer{VersionID: id, UploadURL: url, ExpiresAt: expires, Protocol: "tus"})
}

func (s *Server) handleListUGCVersions(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	it, err := s.ugcItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs := s.state.UGC.Versions(it.Tenant, it.Project, it.ID)
	if p.Kind == PrincipalPlayer && it.Owner != p.ID {
		pub := vs[:0]
		for _, v := range vs {
			if v.State == ugc.VersionPublished {
				pub = append(pub, v)
			}
		}
		vs = pub
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": nonNil(vs)})
}

// handleUGCDownload redirects to a signed URL of a published version, and
// counts the download in this node's batch (flushed every few seconds as
// one RecordUGCDownloads write, never one write per download).
func (s *Server) handleUGCDownload(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	it, err := s.ugcItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("version")
	v, ok := s.state.UGC.Version(it.Tenant, it.Project, it.ID, id)
	if !ok || v.State != ugc.VersionPublished {
		s.fail(w, r, notFound("published version %q of item %q not found", id, it.ID))
		return
	}
	blobs, err := s.ugcBlobs()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	url, err := blobs.DownloadURL(r.Context(), blob.Ref{Tenant: v.Tenant, Project: v.Project, SHA256: v.SHA256,
		Store: v.Store, Holder: v.Holder, Size: v.Size}, v.Filename, ugcDownloadTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.downloads.add(it.Tenant, it.Project, it.ID)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, url, http.StatusFound)
}

type ugcReportRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) handleReportUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	it, err := s.ugcItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req ugcReportRequest
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCSmallBody), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Reason == "" {
		s.fail(w, r, badRequest("reason: is required"))
		return
	}
	if err := consensus.ValidateText("reason", req.Reason, ugc.MaxReasonLen); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := newUGCID("rep_")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_ReportUgcItem{ReportUgcItem: &cassnetv1.ReportUGCItem{
		Tenant: it.Tenant, Project: it.Project, Item: it.ID, Id: id, Reporter: p.Actor(), Reason: req.Reason}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusCreated, map[string]string{"report_id": id, "item": it.ID})
}

type ugcModerationRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func (s *Server) handleModerateUGCItem(w http.ResponseWriter, r *http.Request, p Principal) {
	it, err := s.ugcOwnItem(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req ugcModerationRequest
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCSmallBody), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.ModerateUGCItem{Tenant: it.Tenant, Project: it.Project, Item: it.ID, Action: req.Action, Reason: req.Reason}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_ModerateUgcItem{ModerateUgcItem: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	now, _ := s.state.UGC.Item(it.Tenant, it.Project, it.ID)
	writeJSON(w, http.StatusOK, ugcItemJSON(now))
}

func (s *Server) handleGetUGCSettings(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.state.UGC.Settings(tenant, project))
}

type ugcSettingsRequest struct {
	Store               string   `json:"store"`
	MaxTotalBytes       int64    `json:"max_total_bytes"`
	MaxBytesPerPlayer   int64    `json:"max_bytes_per_player"`
	MaxItemsPerPlayer   uint32   `json:"max_items_per_player"`
	MaxFileSize         int64    `json:"max_file_size"`
	VersionsPerItem     uint32   `json:"versions_per_item"`
	AllowedContentTypes []string `json:"allowed_content_types"`
	Moderation          string   `json:"moderation"`
	UploadTTLSeconds    uint32   `json:"upload_ttl_seconds"`
}

func (s *Server) handlePutUGCSettings(w http.ResponseWriter, r *http.Request, p Principal) {
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req ugcSettingsRequest
	if err := decodeJSON(w, r, min(s.maxBody, maxUGCItemBody), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	op := &cassnetv1.PutUGCSettings{Tenant: tenant, Project: project, Store: req.Store, MaxTotalBytes: req.MaxTotalBytes,
		MaxBytesPerPlayer: req.MaxBytesPerPlayer, MaxItemsPerPlayer: req.MaxItemsPerPlayer, MaxFileSize: req.MaxFileSize,
		VersionsPerItem: req.VersionsPerItem, AllowedContentTypes: req.AllowedContentTypes, Moderation: req.Moderation,
		UploadTtlSeconds: req.UploadTTLSeconds}
	idx, err := s.apply(r.Context(), p, &cassnetv1.Command{Op: &cassnetv1.Command_PutUgcSettings{PutUgcSettings: op}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setIndexHeader(w, idx)
	writeJSON(w, http.StatusOK, s.state.UGC.Settings(tenant, project))
}

// PublishUpload is the blob service's OnComplete: the bytes of u are
// complete and verified, so one Raft write publishes the version. An error
// tells the service to delete the bytes unless something references them,
// so PublishUpload answers one only once the version is definitely not
// published: an indeterminate write (a leader change while committing) is
// retried (publishing is idempotent) and, if it stays unknown, fenced by
// rejecting the version, whose outcome then says which write won.
func (s *Server) PublishUpload(ctx context.Context, u blob.Upload, ref blob.Ref) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ugcPublishPatience)
	defer cancel()
	published := func() bool {
		v, ok := s.state.UGC.Version(u.Tenant, u.Project, u.Item, u.Version)
		return ok && v.State == ugc.VersionPublished && v.Store == ref.Store && v.Holder == ref.Holder
	}
	cmd := func() *cassnetv1.Command {
		return &cassnetv1.Command{Op: &cassnetv1.Command_PublishUgcVersion{PublishUgcVersion: &cassnetv1.PublishUGCVersion{
			Tenant: u.Tenant, Project: u.Project, Item: u.Item, Id: u.Version, Store: ref.Store, Holder: ref.Holder}}}
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, err := s.apply(ctx, s.nodePrincipal(), cmd())
		switch {
		case err == nil || published():
			return nil
		case !ugcRetryable(err):
			return err // a definite refusal: expired, rejected, collecting, gone
		}
		if !sleepCtx(ctx, wait) {
			break
		}
	}
	// Still unknown: fence. A reject that succeeds means the publish never
	// applied (nor will: the version is no longer pending); one refused as
	// "not pending" means something else did, and the state says what.
	fctx, fcancel := context.WithTimeout(context.Background(), ugcPublishPatience)
	defer fcancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, err := s.apply(fctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_RejectUgcVersion{RejectUgcVersion: &cassnetv1.RejectUGCVersion{
			Tenant: u.Tenant, Project: u.Project, Item: u.Item, Id: u.Version, Reason: "the publication could not be confirmed; upload again"}}})
		switch {
		case published():
			return nil
		case err == nil:
			return errors.New("ugc: the publication could not be confirmed; the version was rejected")
		case !ugcRetryable(err):
			return fmt.Errorf("ugc: not published: %w", err)
		}
		if !sleepCtx(fctx, wait) {
			// Unknown for a minute: keep the bytes (an orphan blob, at worst)
			// rather than risk a published version without them.
			s.log.Error("ugc: the outcome of a publication is unknown; keeping its bytes", "item", u.Item, "version", u.Version)
			return nil
		}
	}
}

// ugcPublishPatience bounds each phase of PublishUpload.
const ugcPublishPatience = 30 * time.Second

// ugcRetryable reports whether a write's failure may be retried: its
// outcome is unknown, or no leader took it.
func ugcRetryable(err error) bool {
	return errors.Is(err, consensus.ErrIndeterminate) || errors.Is(err, consensus.ErrNoLeader) ||
		errors.Is(err, consensus.ErrShuttingDown) || errors.Is(err, context.DeadlineExceeded)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RejectUpload is the blob service's OnReject: the version is marked
// rejected with the reason.
func (s *Server) RejectUpload(ctx context.Context, u blob.Upload, reason string) {
	s.rejectVersion(ctx, u, reason)
}

func (s *Server) rejectVersion(ctx context.Context, u blob.Upload, reason string) {
	if len(reason) > ugc.MaxReasonLen {
		reason = reason[:ugc.MaxReasonLen]
	}
	_, err := s.apply(ctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_RejectUgcVersion{RejectUgcVersion: &cassnetv1.RejectUGCVersion{
		Tenant: u.Tenant, Project: u.Project, Item: u.Item, Id: u.Version, Reason: reason}}})
	if err != nil && !errors.Is(err, consensus.ErrConflict) && !errors.Is(err, consensus.ErrNotFound) {
		s.log.Warn("ugc: rejecting a version failed", "item", u.Item, "version", u.Version, "err", err)
	}
}

// ugcDownloadFlush is how often a node flushes its download counts.
const ugcDownloadFlush = 5 * time.Second

// DefaultUGCCollectInterval is how often a node collects the blobs it holds
// that nothing references, unless Config.UGCCollectInterval says otherwise.
const DefaultUGCCollectInterval = 30 * time.Second

// downloadCounts batches download counts between flushes. Safe for
// concurrent use.
type downloadCounts struct {
	mu sync.Mutex
	n  map[string]uint64 // table.Key(tenant, project, item)
}

func (d *downloadCounts) add(tenant, project, item string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = map[string]uint64{}
	}
	if len(d.n) < 4*4096 { // beyond that, counts wait (and may be lost) rather than grow memory
		d.n[table.Key(tenant, project, item)]++
	}
}

func (d *downloadCounts) drain() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.n
	d.n = nil
	return n
}

// flushDownloads writes the counted downloads, a batch at a time. Counts
// of a failed write are dropped (counters are advisory); it is logged.
func (s *Server) flushDownloads(ctx context.Context) {
	var batch []*cassnetv1.RecordUGCDownloads_Entry
	flush := func() {
		if len(batch) == 0 {
			return
		}
		_, err := s.apply(ctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_RecordUgcDownloads{
			RecordUgcDownloads: &cassnetv1.RecordUGCDownloads{Entries: batch}}})
		if err != nil {
			s.log.Warn("ugc: recording downloads failed", "entries", len(batch), "err", err)
		}
		batch = nil
	}
	for k, n := range s.downloads.drain() {
		parts := splitKey(k)
		batch = append(batch, &cassnetv1.RecordUGCDownloads_Entry{Tenant: parts[0], Project: parts[1], Item: parts[2], Count: n})
		if len(batch) == 4096 {
			flush()
		}
	}
	flush()
}

func splitKey(k string) [3]string {
	var out [3]string
	for i := range out {
		j := 0
		for j < len(k) && k[j] != table.Sep[0] {
			j++
		}
		out[i] = k[:j]
		if j < len(k) {
			k = k[j+1:]
		} else {
			k = ""
		}
	}
	return out
}

// collectBlobs deletes the blobs this node holds that no version
// references (and, on the leader, the unreferenced s3 blobs): claim in
// Raft (refused if a version references it again), delete the bytes, then
// forget it. A crash between the steps is retried at the next pass.
func (s *Server) collectBlobs(ctx context.Context) {
	if s.ugc == nil {
		return
	}
	todo := s.state.UGC.Garbage(s.node, 64)
	if s.store.IsLeader() {
		todo = append(todo, s.state.UGC.Garbage("", 64)...)
	}
	for _, b := range todo {
		step := func(phase string) error {
			_, err := s.apply(ctx, s.nodePrincipal(), &cassnetv1.Command{Op: &cassnetv1.Command_CollectUgcBlob{CollectUgcBlob: &cassnetv1.CollectUGCBlob{
				Tenant: b.Tenant, Project: b.Project, Sha256: b.SHA256, Store: b.Store, Holder: b.Holder, Phase: phase}}})
			return err
		}
		if err := step("claim"); err != nil {
			if !errors.Is(err, consensus.ErrConflict) {
				s.log.Warn("ugc: claiming a blob failed", "sha256", b.SHA256, "err", err)
			}
			continue
		}
		err := s.ugc.Delete(ctx, blob.Ref{Tenant: b.Tenant, Project: b.Project, SHA256: b.SHA256, Store: b.Store, Holder: b.Holder, Size: b.Size})
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "ugc: deleting a blob failed", slog.String("sha256", b.SHA256), slog.Any("err", err))
			continue
		}
		if err := step("done"); err != nil {
			s.log.Warn("ugc: forgetting a blob failed", "sha256", b.SHA256, "err", err)
		}
	}
}
