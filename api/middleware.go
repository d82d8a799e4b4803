package api

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// unmatchedRoute labels requests that matched no route in the table.
const unmatchedRoute = "unmatched"

// wrap builds the chain every route runs through: metrics, panic recovery,
// then the authorisation layer, the rate limiter, then the handler. pattern
// is fixed at registration, so metric labels are bounded by the route
// table.
func (s *Server) wrap(pattern string, rt *route) http.Handler {
	obs := s.metrics.forRoute(pattern)
	h, limited := rt.handle, rt.limited()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := newStatusWriter(w)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					sw.release()
					panic(v) // the server's deliberate abort; let it through
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "handler panic",
					slog.String("route", pattern),
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())))
				if !sw.wrote {
					writeError(sw, errorf(http.StatusInternalServerError, codeInternal, "internal error"))
				}
				sw.status = http.StatusInternalServerError
			}
			obs.observe(sw.status, time.Since(start))
			sw.release()
		}()
		p, ok := s.authorize(sw, r, rt)
		if !ok {
			return
		}
		if limited && s.rateLimited(sw, r, rt, p) {
			return
		}
		h(s, sw, r, p)
	})
}

// statusWriter records the status a handler wrote. It is pooled: the ban
// check is hot and should allocate as little as possible.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

var statusWriterPool = sync.Pool{New: func() any { return new(statusWriter) }}

func newStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriterPool.Get().(*statusWriter)
	*sw = statusWriter{ResponseWriter: w, status: http.StatusOK}
	return sw
}

func (sw *statusWriter) release() {
	*sw = statusWriter{}
	statusWriterPool.Put(sw)
}

// WriteHeader records the status and passes it on.
func (sw *statusWriter) WriteHeader(code int) {
	if !sw.wrote {
		sw.status, sw.wrote = code, true
	}
	sw.ResponseWriter.WriteHeader(code)
}

// Write marks the response as started.
func (sw *statusWriter) Write(b []byte) (int, error) {
	sw.wrote = true
	return sw.ResponseWriter.Write(b)
}

// Hijack hands the connection over (the streaming protocol's WebSocket
// upgrade), recording 101 for the metrics.
func (sw *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	sw.status, sw.wrote = http.StatusSwitchingProtocols, true
	return http.NewResponseController(sw.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// candidateMethods are tried to build the Allow header of a 405.
var candidateMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// handleUnmatched answers requests that no route matched: a JSON 405 with
// Allow if the path exists under other methods, otherwise a JSON 404.
func (s *Server) handleUnmatched(w http.ResponseWriter, r *http.Request, _ Principal) {
	var allow []string
	for _, m := range candidateMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"method %s is not allowed here", r.Method))
		return
	}
	writeError(w, notFound("no route for %s", r.URL.Path))
}
