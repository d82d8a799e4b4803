package api

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// pprofPath is the profiling endpoint: the standard net/http/pprof pages,
// for operators only (a profile reveals code paths and timings, and a CPU
// profile or trace costs the node while it runs). Take a CPU profile of a
// live node with
//
//	go tool pprof -http : "http://node:8080/debug/pprof/profile?seconds=20" (with the operator token)
//
// or curl -H "Authorization: Bearer $TOKEN" .../debug/pprof/profile?seconds=20 > cpu.pprof.
const pprofPath = "/debug/pprof/"

// handlePprof serves net/http/pprof below /debug/pprof/. The handlers are
// called directly, never registered on http.DefaultServeMux, so nothing
// is reachable without the route's authorisation.
func (s *Server) handlePprof(w http.ResponseWriter, r *http.Request, _ Principal) {
	switch strings.TrimPrefix(r.URL.Path, pprofPath) {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	default: // the index, and the named profiles: heap, goroutine, allocs, block, mutex, ...
		pprof.Index(w, r)
	}
}
