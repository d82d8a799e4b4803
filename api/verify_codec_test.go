package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// slowVerifyBody is the general path alone: decodeJSON's rules.
func slowVerifyBody(b []byte) (string, error) {
	var req verifyRequest
	err := decodeJSONFrom(bytes.NewReader(b), 1<<20, &req)
	return req.Token, err
}

func sameResult(t *testing.T, body []byte) {
	t.Helper()
	gotTok, gotErr := parseVerifyBody(body, 1<<20)
	wantTok, wantErr := slowVerifyBody(body)
	var ga, wa *apiError
	errors.As(gotErr, &ga)
	errors.As(wantErr, &wa)
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("body %q: err %v, general path %v", body, gotErr, wantErr)
	case gotErr == nil && gotTok != wantTok:
		t.Fatalf("body %q: token %q, general path %q", body, gotTok, wantTok)
	case gotErr != nil && (ga == nil || wa == nil || ga.status != wa.status || ga.code != wa.code):
		t.Fatalf("body %q: error %v, general path %v", body, gotErr, wantErr)
	}
}

func TestVerifyCodec(t *testing.T) {
	for _, b := range []string{
		`{"token":"a.b.c"}`, " \n{ \"token\" :\t\"eyJ-_.x\" } \r\n", `{"token":""}`, `{"token":"a\u002eb"}`,
		`{"token":"a"}x`, `{"token":"a","x":1}`, `{"token":"a","token":"b"}`, `{"Token":"a"}`, `{"token":1}`,
		`{"token":"a"`, `{"token":"a"}{}`, ``, `[]`, `{"token":"a\"b"}`, `{"token":"é"}`, `{}`, `null`,
	} {
		sameResult(t, []byte(b))
	}
	if tok, ok := fastVerifyBody([]byte(`{"token":"h.p.s"}`)); !ok || tok != "h.p.s" {
		t.Fatalf("the usual body took the general path: %q %v", tok, ok)
	}

	exp := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	local := exp.In(time.FixedZone("x", 3600))
	for _, res := range []VerifyResult{
		{Reason: reasonInvalid},
		{Valid: true, Reason: reasonOK, PlayerID: "p1", TenantID: "acme", ProjectID: "arena", SessionID: "s1", ExpiresAt: &exp},
		{Reason: reasonBanned, PlayerID: "p<1>&", TenantID: "t\"", ExpiresAt: &local},
		{Reason: reasonExpired, PlayerID: "é", ExpiresAt: &exp},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(res); err != nil {
			t.Fatal(err)
		}
		got, ok := appendVerifyResult(nil, res)
		if !ok {
			// The general path: writeVerifyResult falls back to writeJSON.
			if plainJSONString(res.PlayerID) && plainJSONString(res.TenantID) {
				t.Fatalf("%+v: refused a plain result", res)
			}
			continue
		}
		if string(got) != want.String() {
			t.Fatalf("appendVerifyResult:\n%s\nencoding/json:\n%s", got, want.String())
		}
	}
	if !strings.Contains(string(must(appendVerifyResult(nil, VerifyResult{ExpiresAt: &local}))), "+01:00") {
		t.Fatal("the zone was lost")
	}
}

func must(b []byte, ok bool) []byte {
	if !ok {
		panic("not ok")
	}
	return b
}

// FuzzDecodeVerify: the hand parser of the verify body and decodeJSON
// agree on every input (the same token, or errors of the same status and
// code).
func FuzzDecodeVerify(f *testing.F) {
	for _, s := range []string{`{"token":"a.b.c"}`, ` {"token" : "x"} `, `{"token":"a","x":1}`, `{"token":"a\u002e"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameResult(t, b) })
}
