package pluginsdk

import (
	"encoding/json"
	"testing"
)

func TestGet(t *testing.T) {
	obj := []byte(` { "a" : "x\"y", "n":-42, "o":{"a":[1,"}",{}]}, "u":"\u00e9\ud83d\ude00", "a\u0062":true, "d":1, "d":2 } `)
	cases := []struct {
		key, raw string
		ok       bool
	}{
		{"a", `"x\"y"`, true}, {"n", `-42`, true}, {"o", `{"a":[1,"}",{}]}`, true},
		{"ab", `true`, true}, {"d", `2`, true}, {"missing", ``, false},
	}
	for _, c := range cases {
		v, ok := Get(obj, c.key)
		if ok != c.ok || string(v) != c.raw {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", c.key, v, ok, c.raw, c.ok)
		}
	}
	vals := make([][]byte, 3)
	if !Lookup(obj, []string{"n", "missing", "d"}, vals) || string(vals[0]) != "-42" || vals[1] != nil || string(vals[2]) != "2" {
		t.Errorf("Lookup = %q", vals)
	}
	if s, ok := Str([]byte(`"x\"y"`)); !ok || s != `x"y` {
		t.Errorf("Str = %q, %v", s, ok)
	}
	v, _ := Get(obj, "u")
	if s, ok := Str(v); !ok || s != "é😀" {
		t.Errorf("Str(u) = %q, %v", s, ok)
	}
	for in, want := range map[string]int64{"-42": -42, "0": 0, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63} {
		if n, ok := Int([]byte(in)); !ok || n != want {
			t.Errorf("Int(%s) = %d, %v", in, n, ok)
		}
	}
	for _, bad := range []string{"", "-", "01", "1.5", "1e3", "9223372036854775808", "-9223372036854775809", "99999999999999999999", `"1"`} {
		if _, ok := Int([]byte(bad)); ok {
			t.Errorf("Int(%s) accepted", bad)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x`, `"s"`} {
		if _, ok := Get([]byte(bad), "a"); ok {
			t.Errorf("Get(%q) found a value", bad)
		}
	}
}

func TestAppendResult(t *testing.T) {
	for _, r := range []Result{Allow(), Reject(422, "bad \"reason\"\n\x01 \xff é"), AmendRaw([]byte(`{"a":1}`))} {
		b := appendResult(nil, r)
		var got Result
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want := r
		if want.Message != "" {
			want.Message = "bad \"reason\"\n\x01 \ufffd é"
		}
		if got.Action != want.Action || got.Status != want.Status || got.Message != want.Message || string(got.Request) != string(want.Request) {
			t.Errorf("round trip of %+v: %s", r, b)
		}
	}
}

func TestParseCaller(t *testing.T) {
	c := parseCaller([]byte("acme\x00rocket\x00api_key\x00k1\x00admin"))
	if c != (Caller{Tenant: "acme", Project: "rocket", Kind: "api_key", ID: "k1", Role: "admin"}) {
		t.Fatalf("%+v", c)
	}
	if c := parseCaller([]byte("acme")); c.Tenant != "acme" || c.ID != "" {
		t.Fatalf("%+v", c)
	}
}

// FuzzGet: whatever Get and Str find in a valid object is what
// encoding/json finds; on anything they never panic.
func FuzzGet(f *testing.F) {
	f.Add([]byte(`{"reason":"aimbot \u00e9","n":3,"o":{"k":[1,2]}}`), "reason")
	f.Add([]byte(`{"a\\u0062":"\ud800x"}`), "ab")
	f.Fuzz(func(t *testing.T, obj []byte, key string) {
		raw, ok := Get(obj, key)
		s, sok := Str(raw)
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil {
			return
		}
		want, has := m[key]
		vals := make([][]byte, 1)
		if Lookup(obj, []string{key}, vals) != (m != nil || string(obj) != "null") || string(vals[0]) != string(raw) {
			t.Fatalf("Lookup(%q, %q) = %q, Get %q", obj, key, vals[0], raw)
		}
		if ok != has {
			t.Fatalf("Get(%q, %q) found %v, encoding/json %v", obj, key, ok, has)
		}
		if !ok {
			return
		}
		var ws string
		if json.Unmarshal(want, &ws) == nil {
			if !sok || s != ws {
				t.Fatalf("Str(%q) = %q, %v; want %q", raw, s, sok, ws)
			}
		}
	})
}

func TestElements(t *testing.T) {
	for in, want := range map[string]int{`[]`: 0, ` [ {"a":[1,2]} , "x,]" ,3 ]`: 3, `[{"id":"a"}]`: 1} {
		if got, ok := Elements([]byte(in)); !ok || len(got) != want {
			t.Errorf("Elements(%s) = %q %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{``, `{}`, `[1,`, `[1 2]`, `[`} {
		if _, ok := Elements([]byte(in)); ok {
			t.Errorf("Elements(%s) ok", in)
		}
	}
	r := PreferRaw([]byte(`{"allocation":{"project_id":"p"},"candidates":[{"id":"a"},{"id":"b"}]}`), [][]byte{[]byte(`{"id":"b"}`)}, true)
	if string(r.Request) != `{"allocation":{"project_id":"p"},"candidates":[{"id":"b"}],"only":true}` || r.Action != "amend" {
		t.Fatalf("PreferRaw = %+v %s", r, r.Request)
	}
}
