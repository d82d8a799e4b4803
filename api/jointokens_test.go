package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// fakeJoinTokens makes tokens the way node.Node does, minus the CA.
type fakeJoinTokens struct{}

func (fakeJoinTokens) NewJoinToken(context.Context) (string, string, []byte, error) {
	secret := "fake-secret"
	sum := sha256.Sum256([]byte(secret))
	return "CN1::c::" + strings.Repeat("ab", 32) + "::" + secret, hex.EncodeToString(sum[:8]), sum[:], nil
}

func TestJoinTokenRoutes(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodPost, "/v1/cluster/join-tokens", `{"ttl_seconds":3600}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var created joinTokenView
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.Token == "" || created.ExpiresAt == nil {
		t.Fatalf("create answered %s (%v)", rec.Body, err)
	}
	rec = h.do(http.MethodGet, "/v1/cluster/join-tokens", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), created.ID) || strings.Contains(rec.Body.String(), "fake-secret") {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if rec = h.do(http.MethodDelete, "/v1/cluster/join-tokens/"+created.ID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec = h.do(http.MethodDelete, "/v1/cluster/join-tokens/"+created.ID, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("second revoke: %d %s", rec.Code, rec.Body)
	}
}
