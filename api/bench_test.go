package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkBanCheck measures the game servers' hot path through the whole
// handler chain (metrics, recovery, auth, stale read, encoding), without a
// network.
func BenchmarkBanCheck(b *testing.B) {
	h := newHarness(b)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	h.createBan("acme", `{"player_id":"cheater","reason":"aimbot"}`)
	for _, bc := range []struct{ name, target string }{
		{"not_banned", "/v1/tenants/acme/players/honest/ban?project_id=rocket"},
		{"banned", "/v1/tenants/acme/players/cheater/ban?project_id=rocket"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.target, nil)
			req.Header.Set("Authorization", "Bearer "+h.token)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				h.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// the benchmark measures the handler rather than httptest.ResponseRecorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }
