package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as the response with the given status. Encoding into
// a pooled buffer first means an encoding failure can still become a clean
// 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // do not pin huge list responses
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
		status = http.StatusInternalServerError
	}
	writeRaw(w, status, buf.Bytes())
}

// writeRaw writes an already-encoded JSON body. net/http adds
// Content-Length itself for bodies written in one go.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = headerJSON
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Shared header values for the hot path. Assigning a shared one-element
// slice saves an allocation per response; it is safe because nothing
// writes into header value slices in place (Add appends, which copies
// since len == cap).
var (
	headerJSON  = []string{"application/json"}
	headerTrue  = []string{"true"}
	headerFalse = []string{"false"}
	headerZero  = []string{"0"}
)
