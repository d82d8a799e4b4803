package pki

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzParseToken(f *testing.F) {
	f.Add("CN1::c::" + string(bytes.Repeat([]byte("ab"), 32)) + "::" + string(bytes.Repeat([]byte("cd"), 32)))
	f.Add("CN1::::::")
	f.Add("cnj_00")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		again, err := ParseToken(tok.String())
		if err != nil || again.String() != tok.String() {
			t.Fatalf("re-parse of %q: %v", tok.String(), err)
		}
	})
}

// FuzzReadFrame feeds arbitrary bytes to the join decoder, which reads
// network input on the server (joinRequest) and the client side.
func FuzzReadFrame(f *testing.F) {
	frame := func(s string) []byte {
		b := make([]byte, 4, 4+len(s))
		binary.BigEndian.PutUint32(b, uint32(len(s)))
		return append(b, s...)
	}
	f.Add(frame(`{"csr":"AAAA","proof":"AAAA"}`))
	f.Add(frame(`{"nonce":"AAAA"}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req joinRequest
		_ = readFrame(bytes.NewReader(b), &req)
		var resp joinResponse
		_ = readFrame(bytes.NewReader(b), &resp)
		var h joinHello
		_ = readFrame(bytes.NewReader(b), &h)
	})
}
