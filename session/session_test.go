package session

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// testVerifier trusts exactly the given keys, at a settable time.
func testVerifier(now *time.Time, keys ...Key) *Verifier {
	return NewVerifier(func(kid string) (ed25519.PublicKey, bool) {
		for _, k := range keys {
			if k.KID == kid {
				return k.Public, true
			}
		}
		return nil, false
	}, func() time.Time { return *now })
}

func mustKey(t testing.TB) Key {
	t.Helper()
	kid, seed, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := KeyFromSeed(kid, seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testSession() Session {
	return Session{ID: "ses_1", PlayerID: "p1", Tenant: "acme", Project: "rocket",
		IssuedAt: epoch, ExpiresAt: epoch.Add(time.Hour)}
}

func TestSignVerify(t *testing.T) {
	k := mustKey(t)
	now := epoch
	v := testVerifier(&now, k)
	tok, err := Sign(k, testSession())
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(tok)
	if err != nil || got != testSession() {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	now = epoch.Add(time.Hour)
	if got, err := v.Verify(tok); !errors.Is(err, ErrExpired) || got.ID != "ses_1" {
		t.Fatalf("at exp: %+v, %v", got, err)
	}
	// Another key with the same kid is not the key.
	other := mustKey(t)
	other.KID = k.KID
	forged, _ := Sign(other, testSession())
	now = epoch
	if _, err := v.Verify(forged); !errors.Is(err, ErrInvalid) {
		t.Fatalf("forged: %v", err)
	}
	// A kid the verifier does not know.
	unknown, _ := Sign(mustKey(t), testSession())
	if _, err := v.Verify(unknown); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown kid: %v", err)
	}
	// alg none with the real claims.
	parts := strings.Split(tok, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+k.KID+`"}`)) + "." + parts[1] + "."
	if _, err := v.Verify(none); !errors.Is(err, ErrInvalid) {
		t.Fatalf("alg none: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	kid, seed, _ := NewKey()
	r := NewKeyring()
	a, err := r.Key(kid, seed)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Key(kid, seed)
	if !a.Public.Equal(b.Public) || len(seed) != ed25519.SeedSize {
		t.Fatal("keyring derived different keys")
	}
	_, seed2, _ := NewKey()
	c, _ := r.Key(kid, seed2)
	if c.Public.Equal(a.Public) {
		t.Fatal("keyring served a stale key for a changed seed")
	}
	if _, err := r.Key("x", []byte{1}); err == nil {
		t.Fatal("short seed accepted")
	}
	for i := range 2 * keyCacheSize {
		kid, seed, _ := NewKey()
		_, _ = r.Key(kid, seed)
		_ = i
	}
	if len(r.cache) > keyCacheSize {
		t.Fatalf("cache grew to %d", len(r.cache))
	}
}

// FuzzVerify feeds arbitrary strings to the token parser. It must never
// panic, and must never accept anything but a token the test key signed.
func FuzzVerify(f *testing.F) {
	k := mustKey(f)
	now := epoch
	v := testVerifier(&now, k)
	good, _ := Sign(k, testSession())
	parts := strings.Split(good, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	expired := testSession()
	expired.IssuedAt, expired.ExpiresAt = epoch.Add(-2*time.Hour), epoch.Add(-time.Hour)
	expiredTok, _ := Sign(k, expired)
	foreign, _ := Sign(mustKey(f), testSession())
	for _, seed := range []string{
		good, expiredTok, foreign, "", ".", "..", "a.b.c", "a.b.c.d",
		b64(`{"alg":"none"}`) + "." + parts[1] + ".",                               // alg none
		b64(`{"alg":"HS256","kid":"`+k.KID+`"}`) + "." + parts[1] + "." + parts[2], // wrong alg
		b64(`{"alg":"EdDSA","kid":"nope"}`) + "." + parts[1] + "." + parts[2],      // unknown kid
		b64(`{"alg":"EdDSA","kid":{"x":1}}`) + "." + parts[1] + "." + parts[2],     // kid not a string
		parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-2] + "AA",        // forged signature
		parts[0] + "." + b64(`{"exp":1e400}`) + "." + parts[2],
		parts[0] + "." + b64(`{"aud":[1,2],"exp":"x"}`) + "." + parts[2],
		parts[0] + "." + parts[1] + "=" + "." + parts[2],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := v.Verify(tok)
		switch {
		case err == nil || errors.Is(err, ErrExpired):
			// Accepted: it must be a token k signed, i.e. re-signing its
			// claims reproduces a token that verifies the same way.
			if s.Tenant == "" || s.ID == "" || s.PlayerID == "" {
				t.Fatalf("accepted a token without claims: %q -> %+v", tok, s)
			}
			p := strings.Split(tok, ".")
			sig, derr := base64.RawURLEncoding.DecodeString(p[len(p)-1])
			if len(p) != 3 || derr != nil || !ed25519.Verify(k.Public, []byte(p[0]+"."+p[1]), sig) {
				t.Fatalf("accepted %q, which the key did not sign", tok)
			}
		case errors.Is(err, ErrInvalid):
			if s != (Session{}) {
				t.Fatalf("invalid token returned claims %+v", s)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
