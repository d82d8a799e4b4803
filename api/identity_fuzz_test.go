package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
)

// FuzzVerifyBody posts arbitrary bodies to POST /v1/sessions/verify. The
// answer is a 200 verdict or a 4xx JSON error, never a 5xx; only the one
// real token is ever valid.
func FuzzVerifyBody(f *testing.F) {
	h := newHarness(f)
	h.createTenant("acme")
	good := h.issue(h.token, "acme", `{"player_id":"p1"}`).Token
	parts := strings.Split(good, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		`{"token":"` + good + `"}`,
		`{"token":"` + b64(`{"alg":"none"}`) + "." + parts[1] + `."}`,
		`{"token":"` + b64(`{"alg":"HS256","kid":"x"}`) + "." + parts[1] + "." + parts[2] + `"}`,
		`{"token":"` + b64(`{"alg":"EdDSA","kid":"sk_unknown"}`) + "." + parts[1] + "." + parts[2] + `"}`,
		`{"token":"` + parts[0] + "." + parts[1] + ".AAAA" + `"}`,
		`{"token":""}`, `{"token":null}`, `{"token":1}`, `{}`, `[]`, `{"token":"a","x":1}`,
		`{"token":"a.b.c"}{}`, "\xff", `{"token":"\u0000"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/sessions/verify", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.token)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		case rec.Code == http.StatusOK:
			res := decodeBody[VerifyResult](t, rec)
			var req verifyRequest
			if res.Valid && (json.Unmarshal([]byte(body), &req) != nil || req.Token != good) {
				t.Fatalf("%q verified as valid", body)
			}
		case !strings.HasPrefix(rec.Body.String(), `{"error":{"code":"`):
			t.Fatalf("%q: %d with a non-error body %s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzParseCredential checks the API key and operator token parsers:
// never a panic, and whatever they accept is exactly the documented shape
// and round-trips.
func FuzzParseCredential(f *testing.F) {
	key, _, _, _ := NewAPIKey()
	tok, _, _, _ := NewOperatorToken()
	for _, seed := range []string{
		key, tok, "", "cnk_", "cnop_", key + "A", key[:len(key)-1],
		strings.Replace(key, ".", "-", 1), strings.ToUpper(key), "cnk_" + tok[5:],
		key[:21] + strings.Repeat("=", 43), key[:21] + strings.Repeat("+", 43),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range []struct {
			prefix string
			parse  func(string) (string, string, error)
			bad    error
		}{{apiKeyPrefix, ParseAPIKey, ErrMalformedAPIKey}, {tokenPrefix, ParseOperatorToken, ErrMalformedToken}} {
			id, secret, err := p.parse(s)
			if err != nil {
				if !errors.Is(err, p.bad) || id != "" || secret != "" {
					t.Fatalf("%q: %v with %q %q", s, err, id, secret)
				}
				continue
			}
			if s != p.prefix+id+"."+secret || consensus.ValidateKeyID("id", id) != nil || len(secret) != tokenSecretLen {
				t.Fatalf("%q accepted as %q . %q", s, id, secret)
			}
			if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
				t.Fatalf("%q: secret is not base64url: %v", s, err)
			}
		}
	})
}
