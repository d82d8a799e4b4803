package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseManifest: a hostile module's manifest either parses into one
// that obeys every rule, or is refused; it never panics.
func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`{"name":"ban-policy","version":"1.0.0","hooks":["before_ban_create"],"rpcs":[]}`,
		`{"name":"x","hooks":["nope"]}`, `{"name":"x","rpcs":["A"]}`, `{"name":"","version":"1"}`,
		`{"name":"x","hooks":["before_ban_create","before_ban_create"]}`, `{"name":"x","extra":1}`, `[]`, `null`, `{"name":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if m.Name == "" || len(m.Name) > maxNameLength || !utf8.ValidString(m.Name) || len(m.Hooks) > maxHooks || len(m.RPCs) > maxRPCs {
			t.Fatalf("accepted %+v", m)
		}
		for _, h := range m.Hooks {
			if !strings.HasPrefix(h, "before_") && !strings.HasPrefix(h, "after_") {
				t.Fatalf("accepted hook %q", h)
			}
		}
		for _, r := range m.RPCs {
			if ValidateRPCName(r) != nil {
				t.Fatalf("accepted rpc %q", r)
			}
		}
		// What the API stores round-trips.
		out, _ := json.Marshal(m)
		if _, err := ParseManifest(out); err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
	})
}

// FuzzDecodeResult: an answer is refused, or is an allow, a 4xx
// rejection with clean text, or an amendment that is a bounded JSON
// object.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"action":"allow"}`, `{"action":"reject","status":422,"message":"no"}`, `{"action":"reject","status":302}`,
		`{"action":"amend","request":{"reason":"x"}}`, `{"action":"amend","request":[1]}`, `{"action":"error","message":"boom"}`,
		`{"action":"reject","message":"\u0007\ud800"}`, `{}`, `nonsense`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResult(b)
		if err != nil {
			return
		}
		switch r.Action {
		case ActionAllow:
		case ActionReject:
			if r.Status < 400 || r.Status > 499 || len(r.Message) > maxMessage || !utf8.ValidString(r.Message) || strings.ContainsAny(r.Message, "\x00\n\r\x1b") {
				t.Fatalf("accepted rejection %+v", r)
			}
		case ActionAmend:
			var obj map[string]json.RawMessage
			if len(r.Request) > maxAmended || json.Unmarshal(r.Request, &obj) != nil || obj == nil {
				t.Fatalf("accepted amendment %s", r.Request)
			}
		default:
			t.Fatalf("accepted action %q", r.Action)
		}
		if _, _, err := decodeRPC(b); err == nil {
			return
		}
	})
}
