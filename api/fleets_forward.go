package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/cassandranet/cassnet/state/servers"
)

// forward answers r by asking node (the one that runs the server) the
// same route with ?scope=local and the caller's credential, and copying
// its answer, streaming it for SSE.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, node, body string) {
	addr := ""
	for _, m := range s.members.Members() {
		if m.Name == node && m.Status == "alive" {
			addr = m.HTTPAddr
		}
	}
	if addr == "" || s.peers == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "node %q, which runs the server, is not reachable", node))
		return
	}
	q := r.URL.Query()
	q.Set("scope", "local")
	scheme := s.scheme
	if scheme == "" {
		scheme = "http"
	}
	u := scheme + "://" + addr + r.URL.EscapedPath() + "?" + q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, strings.NewReader(body))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cred, _ := credential(r)
	req.Header.Set("Authorization", "Bearer "+cred)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.peers.Do(req)
	if err != nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "node %q, which runs the server, did not answer", node))
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control", "X-Accel-Buffering"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			if err != io.EOF {
				s.log.Debug("forwarded answer ended", "node", node, "err", err)
			}
			return
		}
	}
}

// followLogs streams a server's new lines as "event: line" Server-Sent
// Events until the client goes away or the process's log ends.
func (s *Server) followLogs(w http.ResponseWriter, r *http.Request, srv servers.Server) {
	lines, err := s.fleets.Follow(r.Context(), srv.Tenant, srv.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 16<<10)
	_, _ = bw.WriteString(": following " + srv.ID + "\n\n")
	if bw.Flush() != nil || rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l, ok := <-lines:
			if !ok {
				_, _ = bw.WriteString("event: end\ndata: {}\n\n")
				_ = bw.Flush()
				_ = rc.Flush()
				return
			}
			b, _ := json.Marshal(l) // one line: JSON escapes newlines
			_, _ = bw.WriteString("event: line\ndata: ")
			_, _ = bw.Write(b)
			_, _ = bw.WriteString("\n\n")
			if len(lines) == 0 {
				if bw.Flush() != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}
}
