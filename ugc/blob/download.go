package blob

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// hopHeader marks a request one node forwarded to the holder, so a wrong
// membership view can never loop a request between nodes.
const hopHeader = "X-Cassnet-Ugc-Forwarded"

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, UploadsPath):
		s.serveUpload(w, r)
	case strings.HasPrefix(r.URL.Path, BlobsPath):
		s.serveBlob(w, r)
	default:
		httpError(w, http.StatusNotFound, "not found")
	}
}

// serveBlob serves a signed download of a local blob, with Range support,
// or forwards it to the holder.
func (s *Service) serveBlob(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	tenant, project, sum, err := parseBlobPath(strings.TrimPrefix(r.URL.Path, BlobsPath))
	if err != nil {
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	q := r.URL.Query()
	ref := Ref{Tenant: tenant, Project: project, SHA256: sum, Store: StoreLocal, Holder: q.Get("h")}
	name := q.Get("n")
	if err := s.verify("blob", blobSubject(ref.Key(), ref.Holder, name), q.Get("t")); err != nil {
		httpError(w, http.StatusForbidden, "bad or expired download link")
		return
	}
	if ref.Holder != s.cfg.Node {
		s.met.downloads.WithLabelValues("forwarded").Inc()
		s.forward(w, r, ref.Holder)
		return
	}
	s.met.downloads.WithLabelValues("served").Inc()
	f, err := s.local.open(ref)
	if err != nil {
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		httpError(w, http.StatusInternalServerError, "stat failed")
		return
	}
	h := w.Header()
	// The bytes are a player's: never let a browser render them as ours.
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Cache-Control", "private, max-age=300")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// forward proxies r to the node holding a local upload or blob. The
// request is already authenticated by its token (or is re-authenticated
// by the holder); the path and query go unchanged.
func (s *Service) forward(w http.ResponseWriter, r *http.Request, holder string) {
	if r.Header.Get(hopHeader) != "" {
		httpError(w, http.StatusMisdirectedRequest, "forwarded to a node that is not the holder")
		return
	}
	if s.cfg.Resolve == nil {
		httpError(w, http.StatusNotFound, "held by another node")
		return
	}
	base, ok := s.cfg.Resolve(holder)
	if !ok {
		s.met.forwardFailed.Inc()
		httpError(w, http.StatusServiceUnavailable, "the node holding this content is unavailable")
		return
	}
	bu, err := url.Parse(base)
	if err != nil {
		httpError(w, http.StatusBadGateway, "bad holder address")
		return
	}
	target := *bu
	target.Path = strings.TrimSuffix(bu.Path, "/") + r.URL.Path
	target.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
	if err != nil {
		httpError(w, http.StatusBadGateway, "forward failed")
		return
	}
	out.ContentLength = r.ContentLength
	for _, k := range []string{"Authorization", "Tus-Resumable", "Upload-Offset", "Upload-Length",
		"Content-Type", "Range", "If-Range", "If-None-Match", "If-Modified-Since", "Origin"} {
		if v := r.Header.Values(k); len(v) > 0 {
			out.Header[k] = v
		}
	}
	out.Header.Set(hopHeader, s.cfg.Node)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := s.proxy.Do(out)
	if err != nil {
		s.met.forwardFailed.Inc()
		s.log.Warn("forward to holder failed", "holder", holder, "err", err)
		httpError(w, http.StatusBadGateway, "the node holding this content did not answer")
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if k == "Connection" || k == "Keep-Alive" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, resp.Body)
	}
}

// contentDisposition builds an attachment header for a player-chosen
// filename: an ASCII fallback with anything unsafe replaced, and the UTF-8
// name percent-encoded (RFC 6266).
func contentDisposition(name string) string {
	if name == "" {
		return "attachment"
	}
	var b strings.Builder
	for _, c := range name {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '/' || c == ';' || c == '%' {
			b.WriteByte('_')
		} else {
			b.WriteRune(c)
		}
	}
	return `attachment; filename="` + b.String() + `"; filename*=UTF-8''` + url.PathEscape(name)
}
