package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/webhook"
)

const secret = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSignVerify(t *testing.T) {
	at := time.Unix(1764590400, 0)
	body := []byte(`{"id":"evt_1_0"}`)
	h := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(h, "t=1764590400,v1=") || len(h) != len("t=1764590400,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	// A known answer, computed independently:
	// python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_0123...",b"1764590400.{\"id\":\"evt_1_0\"}",hashlib.sha256).hexdigest())'
	if want := knownMAC; !strings.HasSuffix(h, want) {
		t.Fatalf("header %q, want v1=%s", h, want)
	}
	if err := webhook.Verify(secret, h, body, at.Add(time.Minute), webhook.DefaultTolerance); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		header string
		body   string
		now    time.Time
		want   error
	}{
		{"other body", h, `{"id":"evt_1_1"}`, at, webhook.ErrBadSignature},
		{"other secret", webhook.Sign(secret+"x", at, body), string(body), at, webhook.ErrBadSignature},
		{"replayed", h, string(body), at.Add(6 * time.Minute), webhook.ErrStaleSignature},
		{"from the future", h, string(body), at.Add(-6 * time.Minute), webhook.ErrStaleSignature},
		{"no v1", "t=1764590400", string(body), at, webhook.ErrMalformedSignature},
		{"no t", h[strings.Index(h, ",")+1:], string(body), at, webhook.ErrMalformedSignature},
		{"short v1", "t=1,v1=abcd", string(body), at, webhook.ErrMalformedSignature},
		{"two t", "t=1,t=2," + h[strings.Index(h, ",")+1:], string(body), at, webhook.ErrMalformedSignature},
		{"empty", "", string(body), at, webhook.ErrMalformedSignature},
	}
	for _, c := range cases {
		if err := webhook.Verify(secret, c.header, []byte(c.body), c.now, webhook.DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A rotated header with two v1s and an unknown scheme verifies.
	two := "t=1764590400,v0=zz,v1=" + strings.Repeat("00", 32) + "," + h[strings.Index(h, "v1="):]
	if err := webhook.Verify(secret, two, body, at, webhook.DefaultTolerance); err != nil {
		t.Fatalf("two signatures: %v", err)
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add(webhook.Sign(secret, time.Unix(1, 0), []byte("x")))
	f.Add("t=1,v1=zz")
	f.Add("t=,v1=")
	f.Add(",,,=")
	f.Add("t=99999999999999999999,v1=" + strings.Repeat("a", 64))
	f.Fuzz(func(t *testing.T, h string) {
		sig, err := webhook.ParseSignature(h)
		if err != nil {
			return
		}
		if len(sig.V1) == 0 || sig.Timestamp < 0 {
			t.Fatalf("accepted %q as %+v", h, sig)
		}
		for _, v := range sig.V1 {
			if len(v) != 32 {
				t.Fatalf("v1 of %d bytes from %q", len(v), h)
			}
		}
		// Verification of any parsed header never panics.
		_ = webhook.Verify(secret, h, []byte("body"), time.Now(), webhook.DefaultTolerance)
	})
}

// knownMAC is Python's hmac.new(secret, b'1764590400.{"id":"evt_1_0"}', sha256).hexdigest().
const knownMAC = "bd96fe493b9db01b1cbcaa0393b34ec821bc480bc657c6b3ed1d2a7184944e85"
