package supervisor

import (
	"strconv"
	"strings"
	"testing"
)

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"7000-7999", "7000", "0", "65535", "65536", "1-", "-1", "9-1", "007-8", "+1-2", " 1", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if lo < 1 || hi > 65535 || lo > hi {
			t.Fatalf("%q -> %d-%d", s, lo, hi)
		}
		// What parses is digits, or digits '-' digits.
		a, b, _ := strings.Cut(s, "-")
		na, _ := strconv.Atoi(a)
		if na != lo || strings.Contains(s, "-") && func() bool { nb, _ := strconv.Atoi(b); return nb != hi }() {
			t.Fatalf("%q -> %d-%d", s, lo, hi)
		}
	})
}

func FuzzValidateEnv(f *testing.F) {
	f.Add("MAP", "dust", false)
	f.Add("CN_KEY", "secret", true)
	f.Add("lower", "v", false)
	f.Add("_X9", "a\x00b", false)
	f.Add("9X", "", false)
	f.Fuzz(func(t *testing.T, k, v string, user bool) {
		const marker = "\x01secret\x01"
		if err := ValidateEnv(map[string]string{k: marker + v}, user); err != nil && strings.Contains(err.Error(), marker) {
			t.Fatalf("the error quotes the value: %v", err)
		}
		if err := ValidateEnv(map[string]string{k: v}, user); err != nil {
			return
		}
		if k == "" || strings.ContainsRune(v, 0) || user && strings.HasPrefix(k, "CN_") {
			t.Fatalf("accepted %q=%q (user %v)", k, v, user)
		}
		for i, c := range k {
			if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
				t.Fatalf("accepted name %q", k)
			}
		}
		if _, err := portEnv(strings.ToLower(k)); err == nil && !strings.HasPrefix(k, "_") {
			// a valid port name maps to a valid env name
			pk, _ := portEnv(strings.ToLower(k))
			if ValidEnvName(pk) != nil {
				t.Fatalf("port env %q invalid", pk)
			}
		}
	})
}
