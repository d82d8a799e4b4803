package pluginsdk

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner for the hot path: encoding/json's reflection is
// slow inside wasm, and a hook usually reads two or three flat fields.
// It reads well-formed JSON (what the host sends: the API validated the
// request) and answers false, never panics, on anything else.

// Get returns the raw value of the top-level field key of the JSON
// object obj (a string with its quotes), or false. With a key given
// twice, the last wins, as with encoding/json.
func Get(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false
	}
	var found []byte
	for i < len(obj) {
		if obj[i] != '"' {
			return nil, false
		}
		kEnd := skipString(obj, i)
		if kEnd < 0 {
			return nil, false
		}
		k := obj[i:kEnd]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
		vEnd := skipValue(obj, i)
		if vEnd < 0 {
			return nil, false
		}
		if keyIs(k, key) {
			found = obj[i:vEnd]
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) {
			return nil, false
		}
		if obj[i] == '}' {
			return found, found != nil
		}
		if obj[i] != ',' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
	}
	return nil, false
}

// Lookup is Get for several keys in one pass over obj: vals[i] is the
// raw value of keys[i], nil when absent. It answers false if obj is not
// a well-formed object.
func Lookup(obj []byte, keys []string, vals [][]byte) bool {
	clear(vals)
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return false
		}
		kEnd := skipString(obj, i)
		if kEnd < 0 {
			return false
		}
		k := obj[i:kEnd]
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipSpace(obj, i+1)
		vEnd := skipValue(obj, i)
		if vEnd < 0 {
			return false
		}
		// Decode the key once (a function call costs ~100 ns in wasm),
		// then compare it with each wanted key.
		name := k[1 : len(k)-1]
		var unq string
		uok := true
		plain := bytes.IndexByte(name, '\\') < 0 && utf8.Valid(name)
		if !plain {
			unq, uok = unquote(name)
		}
		for j, key := range keys {
			if j < len(vals) && (plain && string(name) == key || !plain && uok && unq == key) {
				vals[j] = obj[i:vEnd]
			}
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) {
			return false
		}
		if obj[i] == '}' {
			return true
		}
		if obj[i] != ',' {
			return false
		}
		i = skipSpace(obj, i+1)
	}
	return false
}

// Str decodes a raw JSON string value.
func Str(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || skipString(v, 0) != len(v) {
		return "", false
	}
	body := v[1 : len(v)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	return unquote(body)
}

// Int decodes a raw JSON integer value (no fraction, no exponent) that
// fits in an int64. It allocates nothing.
func Int(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 1 && v[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg && n > 1<<63 || !neg && n > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func keyIs(raw []byte, key string) bool {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') >= 0 || !utf8.Valid(body) {
		s, ok := unquote(body) // escapes, or invalid UTF-8 read as U+FFFD
		return ok && s == key
	}
	return string(body) == key
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'),
// or -1. It jumps from quote to quote with bytes.IndexByte (assembly on
// wasm too: a byte loop in Go costs about 100 ns a byte inside wasm).
func skipString(b []byte, i int) int {
	for i++; i <= len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		k := i + j
		n := 0
		for m := k - 1; m >= i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return k + 1
		}
		i = k + 1
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// unquote decodes a string body with escapes; invalid UTF-8 and lone
// surrogates become U+FFFD, as with encoding/json.
func unquote(s []byte) (string, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += n
			continue
		}
		if c != '\\' {
			if c < 0x20 {
				return "", false
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+4); ok && i+3 < len(s) && s[i+2] == '\\' && s[i+3] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						i += 6
						break
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// appendQuote appends s as a JSON string: control characters, quotes
// and backslashes escaped, invalid UTF-8 as U+FFFD.
func appendQuote(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
