package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestPprofProfiles(t *testing.T) {
	h := newHarness(t)
	rec := h.mustDo("GET", "/debug/pprof/goroutine?debug=1", "", http.StatusOK)
	if !strings.Contains(rec.Body.String(), "goroutine profile") {
		t.Fatalf("goroutine profile: %.200s", rec.Body)
	}
	rec = h.mustDo("GET", "/debug/pprof/profile?seconds=1", "", http.StatusOK)
	if rec.Body.Len() == 0 {
		t.Fatal("empty CPU profile")
	}
	if rec := h.doWith("GET", "/debug/pprof/heap", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous heap profile: %d", rec.Code)
	}
}
