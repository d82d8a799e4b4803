package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestDecodeVerifyLengths: a body of known length (read exactly, the usual
// case) and the same body of unknown length (chunked: read through a
// MaxBytesReader) decode alike, over and under the limit; a body shorter
// than its Content-Length is a 400.
func TestDecodeVerifyLengths(t *testing.T) {
	const limit = 64
	decode := func(body string, known bool) (string, *apiError) {
		r := httptest.NewRequest("POST", "/v1/sessions/verify", strings.NewReader(body))
		if !known {
			r.Body, r.ContentLength = io.NopCloser(struct{ io.Reader }{strings.NewReader(body)}), -1
		}
		tok, err := decodeVerify(httptest.NewRecorder(), r, limit)
		var ae *apiError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("body %q: error %v is not an apiError", body, err)
		}
		return tok, ae
	}
	for _, body := range []string{
		`{"token":"a.b.c"}`, ` {"token" : "x"} `, `{"token":"a\u002eb"}`, `{"token":"a"`, ``,
		`{"token":"` + strings.Repeat("a", limit) + `"}`, `{"token":"` + strings.Repeat("a", limit-12) + `"}`,
	} {
		kt, ke := decode(body, true)
		ut, ue := decode(body, false)
		if kt != ut || (ke == nil) != (ue == nil) || ke != nil && (ke.status != ue.status || ke.code != ue.code) {
			t.Errorf("body %q: known length %q %v, unknown length %q %v", body, kt, ke, ut, ue)
		}
	}
	if tok, ae := decode(`{"token":"a.b.c"}`, true); tok != "a.b.c" || ae != nil {
		t.Fatalf("the usual body: %q %v", tok, ae)
	}
	if _, ae := decode(`{"token":"`+strings.Repeat("a", limit)+`"}`, true); ae == nil || ae.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a body over the limit: %v", ae)
	}
	r := httptest.NewRequest("POST", "/v1/sessions/verify", strings.NewReader(`{"token":"a.b.c"}`))
	r.ContentLength += 5 // the client promised more than it sent
	if _, err := decodeVerify(httptest.NewRecorder(), r, limit); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("a truncated body: %v", err)
	}
	// Over exactBodyMax, a body of known length grows the buffer as it
	// arrives, as one of unknown length does.
	big := `{"token":"` + strings.Repeat("a", exactBodyMax) + `"}`
	r = httptest.NewRequest("POST", "/v1/sessions/verify", strings.NewReader(big))
	if tok, err := decodeVerify(httptest.NewRecorder(), r, 1<<20); err != nil || len(tok) != exactBodyMax {
		t.Fatalf("a body over exactBodyMax: %d bytes, %v", len(tok), err)
	}
}

// TestIndexValue: the memoised X-Cass-Index value is the index's decimal
// form, whether it was the last one asked for or not.
func TestIndexValue(t *testing.T) {
	var m indexMemo
	for _, idx := range []uint64{7, 7, 123456789, 7, 0, 18446744073709551615, 18446744073709551615} {
		if got := m.value(idx); len(got) != 1 || got[0] != strconv.FormatUint(idx, 10) {
			t.Fatalf("indexValue(%d) = %q", idx, got)
		}
	}
}
