package console

import (
	"net/http/httptest"
	"testing"
)

// FuzzCredential feeds arbitrary Cookie and X-CSRF-Token headers and
// methods to the session resolver: it must never panic, resolve only the
// one live session's exact id, and let a mutation through only with that
// session's exact CSRF token.
func FuzzCredential(f *testing.F) {
	c, clk := newTestConsole(f)
	w := login(f, c, goodCred, nil)
	ck := sessionOf(f, w)
	s, err := c.sessions.get(ck.Value, clk.now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", CookieName+"="+ck.Value, "")
	f.Add("POST", CookieName+"="+ck.Value, s.csrf)
	f.Add("POST", CookieName+"="+ck.Value+"; "+CookieName+"=x", s.csrf)
	f.Add("DELETE", "a=b; "+CookieName+"=\""+ck.Value+"\"", s.csrf+" ")
	f.Add("PUT", CookieName+"=;;;==", "\x00")
	f.Fuzz(func(t *testing.T, method, cookie, csrf string) {
		r := httptest.NewRequest("GET", "/v1/tenants", nil)
		r.Method = method
		r.Header.Set("Cookie", cookie)
		r.Header.Set(CSRFHeader, csrf)
		cred, ok, err := c.Credential(r)
		if err != nil && (ok || cred != "") {
			t.Fatalf("an error with a credential: %q %v %v", cred, ok, err)
		}
		if !ok {
			return
		}
		if cred != goodCred {
			t.Fatalf("resolved to %q", cred)
		}
		if got, _ := sessionCookie(r); got != ck.Value {
			t.Fatalf("cookie %q resolved the session", cookie)
		}
		if !safeMethod(method) && csrf != s.csrf {
			t.Fatalf("%s with CSRF %q went through", method, csrf)
		}
	})
}
