package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzBody posts body to target and fails on a 5xx (a panic is recovered
// into a 500, so this catches panics too).
func fuzzBody(t *testing.T, h *harness, target, body string) {
	req := httptest.NewRequest("POST", target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("POST %s %q: %d %s", target, body, rec.Code, rec.Body)
	}
	if rec.Code != http.StatusCreated && !strings.HasPrefix(rec.Body.String(), `{"error":{"code":"`) {
		t.Fatalf("POST %s %q: %d with a non-error body %s", target, body, rec.Code, rec.Body)
	}
}

func FuzzDecodeCreateBan(f *testing.F) {
	for _, seed := range []string{
		`{"player_id":"p1","reason":"x","duration_seconds":60,"project_id":"rocket"}`,
		`{"player_id":"p1"}`,
		`{"player_id":"p1","duration_seconds":1e400}`,
		`{"player_id":"p1","duration_seconds":-9223372036854775808}`,
		`{"player_id":"\u0000"}`,
		`{"player_id":"p1"}{}`,
		`[`, `null`, `""`, `{"PLAYER_ID":"p"}`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	h := newHarness(f)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	f.Fuzz(func(t *testing.T, body string) {
		fuzzBody(t, h, "/v1/tenants/acme/bans", body)
	})
}

func FuzzDecodeCreateTenant(f *testing.F) {
	for _, seed := range []string{
		`{"name":"acme"}`, `{"name":""}`, `{"name":"a","name":"b"}`,
		`{"name":null}`, `{}`, `{"name":"x"} trailing`, `{"name":"\ud800"}`,
		strings.Repeat("[", 10000), `{"name":"` + strings.Repeat("a", 100) + `"}`,
	} {
		f.Add(seed)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body string) {
		fuzzBody(t, h, "/v1/tenants", body)
	})
}
