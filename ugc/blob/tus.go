package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// tusStore adapts the backends to tusd's DataStore. Uploads are created by
// Service.Create only; a tus POST is refused.
type tusStore struct{ s *Service }

var (
	errNoCreation  = handler.NewError("ERR_CREATION_DISABLED", "uploads are created by POST .../ugc/items/{item}/versions", http.StatusForbidden)
	errExpired     = handler.NewError("ERR_UPLOAD_EXPIRED", "upload expired", http.StatusGone)
	errPending     = handler.NewError("ERR_UPLOAD_PENDING", "every byte is here but storing the blob failed; retry later", http.StatusServiceUnavailable)
	errNotWritable = handler.NewError("ERR_UPLOAD_CLOSED", "upload is complete or being completed", http.StatusConflict)
)

func (t tusStore) NewUpload(context.Context, handler.FileInfo) (handler.Upload, error) {
	return nil, errNoCreation
}

func (t tusStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	store, holder, err := parseUploadID(id)
	if err != nil || (store == StoreLocal && holder != t.s.cfg.Node) {
		return nil, handler.ErrNotFound
	}
	b, err := t.s.backend(store)
	if err != nil {
		return nil, handler.ErrNotFound
	}
	rec, err := b.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, handler.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if rec.State != stateDone && !t.s.now().Before(rec.Upload.ExpiresAt) {
		return nil, errExpired
	}
	if rec.State == stateFull {
		// Every byte is here but the last finalisation failed (tusd
		// answers a PATCH at offset == size with 204 without asking
		// the store again): retry it now, under the request's lock, so
		// a client never sees the full offset before the version is
		// published or rejected.
		if err := t.s.finish(ctx, b, rec); err != nil {
			var te handler.Error
			if errors.As(err, &te) {
				return nil, te
			}
			return nil, errPending
		}
	}
	return &tusUpload{s: t.s, b: b, rec: rec}, nil
}

func (t tusStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*tusUpload)
}

type tusUpload struct {
	s   *Service
	b   backend
	rec *record
}

func (u *tusUpload) GetInfo(context.Context) (handler.FileInfo, error) {
	r := u.rec
	return handler.FileInfo{ID: r.Upload.ID, Size: r.Upload.Size, Offset: r.Offset,
		MetaData: handler.MetaData{"filename": r.Upload.Filename, "filetype": r.Upload.ContentType}}, nil
}

func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	if u.rec.State != stateReceiving {
		return 0, errNotWritable
	}
	if offset != u.rec.Offset {
		return 0, handler.ErrMismatchOffset
	}
	n, err := u.b.write(ctx, u.rec, src)
	u.s.met.received.WithLabelValues(u.rec.Upload.Store).Add(float64(n))
	return n, err
}

func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

func (u *tusUpload) FinishUpload(ctx context.Context) error {
	return u.s.finish(ctx, u.b, u.rec)
}

func (u *tusUpload) Terminate(ctx context.Context) error {
	if u.rec.State == stateDone {
		return errNotWritable
	}
	if err := u.b.discard(ctx, u.rec); err != nil {
		return err
	}
	if err := u.b.forget(ctx, u.rec.Upload.ID); err != nil {
		return err
	}
	u.s.reject(ctx, u.rec.Upload, outcomeTerminated, "terminated by the client")
	return nil
}

// finish verifies a fully received upload and hands it to OnComplete. It
// runs under the upload's lock (tusd's, or Run's).
func (s *Service) finish(ctx context.Context, b backend, rec *record) error {
	if rec.State == stateDone {
		return nil
	}
	sum, err := rec.digest()
	if err != nil {
		return err
	}
	if rec.Offset != rec.Upload.Size || sum != rec.Upload.SHA256 {
		reason := fmt.Sprintf("sha256 mismatch: declared %s, received %s", rec.Upload.SHA256, sum)
		if rec.Offset != rec.Upload.Size {
			reason = fmt.Sprintf("size mismatch: declared %d, received %d", rec.Upload.Size, rec.Offset)
		}
		if err := b.discard(ctx, rec); err != nil {
			return err
		}
		if err := b.forget(ctx, rec.Upload.ID); err != nil {
			return err
		}
		s.reject(ctx, rec.Upload, outcomeMismatch, reason)
		return handler.NewError("ERR_CHECKSUM_MISMATCH", reason, 460)
	}
	// Finish what was started even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3OpTimeout)
	defer cancel()
	ref := rec.ref(s.cfg.Node)
	unlock := s.lockKey(ref.Store + ":" + ref.Key())
	defer unlock()
	created, err := b.finalize(ctx, rec)
	if err != nil {
		// Bytes stay staged (state full); Run retries.
		s.log.Error("upload finalisation failed; will retry", "upload", rec.Upload.ID, "err", err)
		return err
	}
	if fn, _ := s.callbacks(); fn != nil {
		if err := fn(ctx, rec.Upload, ref); err != nil {
			if created {
				if derr := b.deleteBlob(ctx, ref); derr != nil {
					s.log.Error("deleting unpublished blob", "blob", ref.Key(), "err", derr)
				}
			}
			if ferr := b.forget(ctx, rec.Upload.ID); ferr != nil {
				s.log.Error("forgetting upload", "upload", rec.Upload.ID, "err", ferr)
			}
			s.log.Warn("upload verified but not published", "upload", rec.Upload.ID, "err", err)
			s.countUpload(rec.Upload.Store, outcomeNotPublished)
			code := http.StatusInternalServerError
			var sc interface{ StatusCode() int }
			if errors.As(err, &sc) && sc.StatusCode() >= 400 && sc.StatusCode() <= 599 {
				code = sc.StatusCode()
			}
			return handler.NewError("ERR_NOT_PUBLISHED", err.Error(), code)
		}
	}
	rec.State = stateDone
	if created {
		s.countUpload(rec.Upload.Store, outcomeCompleted)
	} else {
		s.countUpload(rec.Upload.Store, outcomeDeduplicated)
	}
	s.log.Info("upload complete", "upload", rec.Upload.ID, "blob", ref.Key(), "deduplicated", !created)
	return b.save(ctx, rec)
}

// serveUpload authenticates a tus request, routes it to the holder for a
// local upload held elsewhere, and hands it to tusd.
func (s *Service) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, UploadsPath)
	if m := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && m != "" {
		r.Method = m // as tusd does, for clients that can only POST
		r.Header.Del("X-HTTP-Method-Override")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		// tusd sets these on the answers it writes; the refusals below
		// are written before it, and a browser must be able to read them.
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "Upload-Offset, Upload-Length, Upload-Expires, Tus-Resumable")
		w.Header().Set("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		s.tus.Middleware(http.NotFoundHandler()).ServeHTTP(&extWriter{ResponseWriter: w}, r)
		return
	}
	if r.Method == http.MethodPost && id == "" {
		httpError(w, http.StatusForbidden, errNoCreation.Message)
		return
	}
	store, holder, err := parseUploadID(id)
	if err != nil {
		httpError(w, http.StatusNotFound, "upload not found")
		return
	}
	var exp time.Time
	tok := r.URL.Query().Get("t")
	if tok != "" {
		if err := s.verify("upload", id, tok); err != nil {
			if errors.Is(err, ErrExpired) {
				httpError(w, http.StatusGone, "upload expired")
			} else {
				httpError(w, http.StatusForbidden, "bad upload token")
			}
			return
		}
		e, _, _ := parseToken(tok)
		exp = time.Unix(e, 0)
	}
	if store == StoreLocal && holder != s.cfg.Node {
		s.forward(w, r, holder)
		return
	}
	if tok == "" {
		if s.cfg.Authorize == nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpError(w, http.StatusUnauthorized, "missing upload token")
			return
		}
		b, err := s.backend(store)
		if err != nil {
			httpError(w, http.StatusNotFound, "upload not found")
			return
		}
		rec, err := b.load(r.Context(), id)
		if err != nil {
			httpError(w, http.StatusNotFound, "upload not found")
			return
		}
		if err := s.cfg.Authorize(r, rec.Upload); err != nil {
			httpError(w, http.StatusForbidden, "not allowed to upload here")
			return
		}
		exp = rec.Upload.ExpiresAt
	}
	defer s.enter(r.Context(), id)()
	switch r.Method {
	case http.MethodHead, http.MethodPatch, http.MethodDelete:
	default:
		w.Header().Set("Allow", "HEAD, PATCH, DELETE, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	w.Header().Set("Upload-Expires", exp.UTC().Format(http.TimeFormat))
	// tusd's unrouted handler takes the path without its base.
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = id, ""
	s.tus.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead:
			s.tus.HeadFile(w, r)
		case http.MethodPatch:
			s.tus.PatchFile(w, r)
		case http.MethodDelete:
			s.tus.DelFile(w, r)
		}
	})).ServeHTTP(&extWriter{ResponseWriter: w}, r2)
}

// extWriter adds "expiration" to the extensions tusd announces (Create
// sets an expiry on every upload and Upload-Expires carries it) and drops
// "creation-with-upload".
type extWriter struct {
	http.ResponseWriter
	wrote bool
}

func (e *extWriter) WriteHeader(code int) {
	if !e.wrote {
		e.wrote = true
		if x := e.Header().Get("Tus-Extension"); x != "" && !strings.Contains(x, "expiration") {
			// creation-with-upload needs a client POST, which is refused.
			x = strings.ReplaceAll(x, "creation-with-upload,", "")
			e.Header().Set("Tus-Extension", x+",expiration")
		}
	}
	e.ResponseWriter.WriteHeader(code)
}

func (e *extWriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (tusd's deadlines) reach the
// connection.
func (e *extWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, strconv.Itoa(code)+" "+msg+"\n")
}
