package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
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

// BenchmarkVerifySession measures the in-process verification: JWT
// parsing, the Ed25519 signature, and the revocation and ban lookups in
// the local state.
func BenchmarkVerifySession(b *testing.B) {
	h := newHarness(b)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	h.createBan("acme", `{"player_id":"cheater","reason":"aimbot"}`)
	tok := h.issue(h.token, "acme", `{"player_id":"honest","project_id":"rocket"}`).Token
	p := Principal{Kind: PrincipalOperator, ID: h.tokenID}
	b.ReportAllocs()
	for b.Loop() {
		if res := h.srv.verifySession(p, tok); !res.Valid {
			b.Fatalf("verdict %+v", res)
		}
	}
}

// BenchmarkVerifyEndpoint is the same through the whole handler chain
// (metrics, authentication, body decoding, encoding), without a network.
func BenchmarkVerifyEndpoint(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.MaxBodyBytes = 0 })
	h.createTenant("acme")
	tok := h.issue(h.token, "acme", `{"player_id":"honest"}`).Token
	body := `{"token":"` + tok + `"}`
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/sessions/verify", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		clear(w.h)
		w.code = 0
		h.h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}
