package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
)

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	wantError(t, h.do("GET", "/v1/nope", ""), http.StatusNotFound, "not_found")
	wantError(t, h.do("GET", "/", ""), http.StatusNotFound, "not_found")
	wantError(t, h.do("GET", "/v1/tenants/acme/", ""), http.StatusNotFound, "not_found")
	wantError(t, h.doWith("GET", "/v1/nope", "", ""), http.StatusNotFound, "not_found")

	rec := h.do("PATCH", "/v1/tenants/acme", "")
	wantError(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := rec.Header().Get("Allow"); got != "GET, HEAD, DELETE" {
		t.Errorf("Allow = %q", got)
	}
	rec = h.do("DELETE", "/v1/health", "")
	wantError(t, rec, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}

func TestBodyLimits(t *testing.T) {
	h := newHarness(t) // MaxBodyBytes 1024
	big := `{"name":"` + strings.Repeat("a", 2000) + `"}`
	wantError(t, h.do("POST", "/v1/tenants", big), http.StatusRequestEntityTooLarge, "payload_too_large")

	// Without a Content-Length the limit is enforced while reading.
	req := httptest.NewRequest("POST", "/v1/tenants", strings.NewReader(big))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+h.token)
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusRequestEntityTooLarge, "payload_too_large")

	// Oversized data after a valid value is still too large, not "trailing".
	trail := `{"name":"x"}` + strings.Repeat(" ", 1100) + "x"
	wantError(t, h.do("POST", "/v1/tenants", trail), http.StatusRequestEntityTooLarge, "payload_too_large")
}

func TestContentType(t *testing.T) {
	h := newHarness(t)
	send := func(ct string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/tenants", strings.NewReader(`{"name":"acme"}`))
		req.Header.Set("Authorization", "Bearer "+h.token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		return rec
	}
	wantError(t, send("text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	wantError(t, send("application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	if rec := send("application/json; charset=utf-8"); rec.Code != http.StatusCreated {
		t.Fatalf("json with charset: %d %s", rec.Code, rec.Body)
	}
	if rec := send(""); rec.Code != http.StatusConflict { // absent is accepted
		t.Fatalf("no Content-Type: %d %s", rec.Code, rec.Body)
	}
}

func TestStoreErrorMapping(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		retry  bool
	}{
		{"no leader", &consensus.Error{Code: "no_leader", Message: "dial 10.0.0.9:7001 refused"}, 503, "no_leader", true},
		{"shutting down", consensus.ErrShuttingDown, 503, "shutting_down", true},
		{"indeterminate", &consensus.Error{Code: "indeterminate", Message: "leadership lost"}, 504, "indeterminate", false},
		{"deadline", context.DeadlineExceeded, 504, "indeterminate", false},
		{"canceled", context.Canceled, 504, "indeterminate", false},
		{"wrapped conflict", errors.Join(errors.New("x"), consensus.ErrConflict), 409, "conflict", false},
		{"unknown", errors.New("disk on fire at /var/lib/cassnet"), 500, "internal", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.store.set(func(f *fakeStore) { f.applyErr = tt.err })
			rec := h.do("POST", "/v1/tenants", `{"name":"acme"}`)
			e := wantError(t, rec, tt.status, tt.code)
			if got := rec.Header().Get("Retry-After"); (got == "1") != tt.retry {
				t.Errorf("Retry-After = %q", got)
			}
			if strings.Contains(e.Message, "10.0.0.9") || strings.Contains(e.Message, "/var/lib") {
				t.Errorf("internal detail leaked: %q", e.Message)
			}
			if tt.code == "indeterminate" && !strings.Contains(e.Message, "may or may not") {
				t.Errorf("indeterminate message = %q", e.Message)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	h := newHarness(t)
	h.store.set(func(f *fakeStore) { f.readErr = consensus.ErrNoLeader })
	rec := h.do("GET", "/v1/tenants", "")
	wantError(t, rec, http.StatusServiceUnavailable, "no_leader")
	if rec.Header().Get("Retry-After") != "1" {
		t.Error("503 without Retry-After")
	}
	h.store.set(func(f *fakeStore) { f.readErr = context.DeadlineExceeded })
	wantError(t, h.do("GET", "/v1/tenants", ""), http.StatusGatewayTimeout, "timeout")
}

func TestPanicRecovered(t *testing.T) {
	h := newHarness(t)
	h.store.set(func(f *fakeStore) { f.readPanic = true })
	e := wantError(t, h.do("GET", "/v1/tenants", ""), http.StatusInternalServerError, "internal")
	if strings.Contains(e.Message, "exploded") {
		t.Errorf("panic value leaked: %q", e.Message)
	}
	if !strings.Contains(h.logs.String(), "read exploded") {
		t.Error("panic not logged")
	}
	// The server still works.
	h.store.set(func(f *fakeStore) { f.readPanic = false })
	h.mustDo("GET", "/v1/tenants", "", http.StatusOK)
}

func TestNewRequiresDependencies(t *testing.T) {
	store := newFakeStore(newFakeClock())
	for _, cfg := range []Config{
		{Members: &fakeMembers{}, Agent: &fakeAgent{}},
		{Store: store, Agent: &fakeAgent{}},
		{Store: store, Members: &fakeMembers{}},
		{Store: store, State: store.state, Members: &fakeMembers{}, Agent: &fakeAgent{}, MaxBodyBytes: -1},
		{Store: store, Members: &fakeMembers{}, Agent: &fakeAgent{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
