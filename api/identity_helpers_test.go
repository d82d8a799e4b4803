package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// newKey replicates an API key as a tenant admin's POST would, and returns
// the key string and its id.
func (h *harness) newKey(tenant, role, project string, ttl time.Duration) (key, id string) {
	h.t.Helper()
	key, id, sum, err := NewAPIKey()
	if err != nil {
		h.t.Fatal(err)
	}
	var exp int64
	if ttl > 0 {
		exp = h.clock.Now().Add(ttl).Unix()
	}
	h.store.mustApply(&cassnetv1.Command{Op: &cassnetv1.Command_CreateApiKey{CreateApiKey: &cassnetv1.CreateAPIKey{
		Id: id, Tenant: tenant, Name: role + " key", Role: role, Project: project, SecretSha256: sum, ExpiresUnix: exp,
	}}})
	return key, id
}

// doAs sends a request with "Authorization: Bearer <cred>" ("" for none).
func (h *harness) doAs(cred, method, target, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	authz := ""
	if cred != "" {
		authz = "Bearer " + cred
	}
	return h.doWith(method, target, body, authz)
}

// issue creates a session through the API and fails unless it is 201.
func (h *harness) issue(cred, tenant, body string) sessionResponse {
	h.t.Helper()
	rec := h.doAs(cred, "POST", "/v1/tenants/"+tenant+"/sessions", body)
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("create session: %d %s", rec.Code, rec.Body)
	}
	return decodeBody[sessionResponse](h.t, rec)
}

// verify posts a token to the verify endpoint and decodes the verdict.
func (h *harness) verify(cred, token string) VerifyResult {
	h.t.Helper()
	b, _ := json.Marshal(verifyRequest{Token: token})
	rec := h.doAs(cred, "POST", "/v1/sessions/verify", string(b))
	if rec.Code != http.StatusOK {
		h.t.Fatalf("verify: %d %s", rec.Code, rec.Body)
	}
	// Verification is a (stale) read, so it says how fresh it was.
	for _, hdr := range []string{"X-Cass-Index", "X-Cass-Known-Leader", "X-Cass-Last-Contact"} {
		if rec.Header().Get(hdr) == "" {
			h.t.Fatalf("verify answer lacks %s", hdr)
		}
	}
	return decodeBody[VerifyResult](h.t, rec)
}

// wantReason fails unless res has the reason (and validity to match).
func wantReason(t testing.TB, res VerifyResult, reason string) {
	t.Helper()
	if res.Reason != reason || res.Valid != (reason == reasonOK) {
		t.Fatalf("verdict %+v, want reason %q", res, reason)
	}
	if reason == reasonInvalid && (res.PlayerID != "" || res.TenantID != "" || res.SessionID != "" || res.ExpiresAt != nil) {
		t.Fatalf("an invalid verdict repeats claims: %+v", res)
	}
}

// replicate applies a command as actor "test".
func (h *harness) replicate(cmd *cassnetv1.Command) {
	h.t.Helper()
	h.store.mustApply(cmd)
}
