package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// The hot path of POST /v1/sessions/verify (issue 17): with the verified
// signature cached, encoding/json's Decoder and Encoder were a fifth of
// the node's CPU per verification (docs/benchmarks.md). The body every
// client sends, {"token":"<JWT>"}, is parsed by hand, and the answer
// appended by hand; anything else takes the general path with the same
// rules and the same errors (FuzzDecodeVerify and TestVerifyCodec hold
// the two paths to the same results).

// exactBodyMax is the largest body decodeVerify reads in one piece: a
// body of the largest token (session.MaxTokenLen) and then some.
const exactBodyMax = 8 << 10

// decodeVerify reads the body of POST /v1/sessions/verify and returns
// its token, with decodeJSON's checks and errors.
func decodeVerify(w http.ResponseWriter, r *http.Request, maxBytes int64) (string, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" && !isJSONMediaType(ct) {
		return "", errorf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"Content-Type must be application/json")
	}
	if r.ContentLength > maxBytes {
		return "", tooLarge(maxBytes)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if n := r.ContentLength; n >= 0 && n <= exactBodyMax {
		// The length is known, small and within the limit (checked
		// above), and net/http's body never yields more than it: read
		// exactly that, without a MaxBytesReader and the read that finds
		// EOF. Larger bodies grow the buffer only as their bytes arrive,
		// so a client cannot make the node allocate by announcing a
		// length it never sends.
		buf.Grow(int(n))
		b := buf.AvailableBuffer()[:n]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return "", errorf(http.StatusBadRequest, codeInvalidJSON, "request body is truncated JSON")
		}
		return parseVerifyBody(b, maxBytes)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBytes)); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return "", tooLarge(maxBytes)
		}
		return "", errorf(http.StatusBadRequest, codeInvalidJSON, "request body is truncated JSON")
	}
	return parseVerifyBody(buf.Bytes(), maxBytes)
}

// parseVerifyBody is decodeVerify after the read: the fast path, or
// decodeJSON's rules on the same bytes.
func parseVerifyBody(b []byte, maxBytes int64) (string, error) {
	if tok, ok := fastVerifyBody(b); ok {
		return tok, nil
	}
	var req verifyRequest
	if err := decodeJSONFrom(bytes.NewReader(b), maxBytes, &req); err != nil {
		return "", err
	}
	return req.Token, nil
}

// fastVerifyBody recognises `{"token":"T"}` with JSON whitespace around
// any token, where T has only the characters of a JWT (base64url and
// dots), so that its JSON value is its bytes. ok false: not that shape.
func fastVerifyBody(b []byte) (string, bool) {
	i := skipWS(b, 0)
	const key = `"token"`
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipWS(b, i+1)
	if !bytes.HasPrefix(b[i:], []byte(key)) {
		return "", false
	}
	i = skipWS(b, i+len(key))
	if i >= len(b) || b[i] != ':' {
		return "", false
	}
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] != '"' {
		return "", false
	}
	start := i + 1
	j := start
	for j < len(b) && jwtChar(b[j]) {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		return "", false
	}
	tok := b[start:j]
	i = skipWS(b, j+1)
	if i >= len(b) || b[i] != '}' {
		return "", false
	}
	if skipWS(b, i+1) != len(b) {
		return "", false
	}
	return string(tok), true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func jwtChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// writeVerifyResult writes res exactly as writeJSON would.
func writeVerifyResult(w http.ResponseWriter, res VerifyResult) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	b, ok := appendVerifyResult(buf.AvailableBuffer(), res)
	if !ok {
		writeJSON(w, http.StatusOK, res)
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// appendVerifyResult appends json.Encoder's encoding of res (with its
// newline). ok false: a field needs escaping, or the time is one
// encoding/json refuses; the caller then uses encoding/json itself.
func appendVerifyResult(b []byte, res VerifyResult) ([]byte, bool) {
	b = append(b, `{"valid":`...)
	if res.Valid {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	for _, f := range [...]struct{ name, v string }{
		{`,"reason":`, res.Reason}, {`,"player_id":`, res.PlayerID}, {`,"tenant_id":`, res.TenantID},
		{`,"project_id":`, res.ProjectID}, {`,"session_id":`, res.SessionID},
	} {
		if !plainJSONString(f.v) {
			return nil, false
		}
		b = append(b, f.name...)
		b = append(b, '"')
		b = append(b, f.v...)
		b = append(b, '"')
	}
	b = append(b, `,"expires_at":`...)
	if res.ExpiresAt == nil {
		b = append(b, "null"...)
	} else {
		t := *res.ExpiresAt
		if y := t.Year(); y < 0 || y > 9999 {
			return nil, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, "}\n"...), true
}

// plainJSONString reports whether s encodes as itself between quotes
// under encoding/json's rules (printable ASCII, no quote, backslash, or
// HTML-escaped <, >, &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
