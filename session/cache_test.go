package session

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCacheSameAnswersAsVerifier(t *testing.T) {
	k := mustKey(t)
	now := epoch
	trusted := true
	v := NewVerifier(func(kid string) (ed25519.PublicKey, bool) {
		return k.Public, trusted && kid == k.KID
	}, func() time.Time { return now })
	c := NewCache(v, 4, func() time.Time { return now })
	tok, err := Sign(k, testSession())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got, err := c.Verify(tok); err != nil || got != testSession() {
			t.Fatalf("call %d: %+v, %v", i, got, err)
		}
	}
	if hits, misses := c.Stats(); hits != 2 || misses != 1 {
		t.Fatalf("hits %d misses %d, want 2 and 1", hits, misses)
	}
	// A tampered token is another entry and fails in full. (A signature
	// that happens to end in "AA", 1 in 4,096, is changed to "BB".)
	tampered := tok[:len(tok)-2] + "AA"
	if tampered == tok {
		tampered = tok[:len(tok)-2] + "BB"
	}
	if _, err := c.Verify(tampered); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered: %v", err)
	}
	// Expiry is checked on a hit.
	now = epoch.Add(time.Hour)
	if got, err := c.Verify(tok); !errors.Is(err, ErrExpired) || got.ID != "ses_1" {
		t.Fatalf("expired hit: %+v, %v", got, err)
	}
	// A key that is no longer trusted stops a cached token at once.
	now = epoch
	if _, err := c.Verify(tok); err != nil {
		t.Fatal(err)
	}
	trusted = false
	if _, err := c.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retired key: %v", err)
	}
	// Failures are not cached.
	if n := c.Len(); n != 0 {
		t.Fatalf("%d entries after the key was retired", n)
	}
}

func TestCacheBounded(t *testing.T) {
	k := mustKey(t)
	now := epoch
	v := testVerifier(&now, k)
	c := NewCache(v, 10, func() time.Time { return now })
	var first string
	for i := range 100 {
		s := testSession()
		s.ID = fmt.Sprintf("ses_%d", i)
		tok, err := Sign(k, s)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tok
		}
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(first); err != nil { // in use: stays cached
			t.Fatal(err)
		}
		if c.Len() > 10 {
			t.Fatalf("cache grew to %d", c.Len())
		}
	}
	if hits, _ := c.Stats(); hits < 99 {
		t.Fatalf("the token in use was evicted: %d hits", hits)
	}
}

// BenchmarkVerifyCached compares a full verification with a cache hit:
// the hidden cost of the cache is the SHA-256 and the lookup on a miss.
func BenchmarkVerifyCached(b *testing.B) {
	k := mustKey(b)
	now := epoch
	v := testVerifier(&now, k)
	tok, err := Sign(k, testSession())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verifier", func(b *testing.B) {
		for b.Loop() {
			_, _ = v.Verify(tok)
		}
	})
	b.Run("cache-hit", func(b *testing.B) {
		c := NewCache(v, 0, func() time.Time { return now })
		for b.Loop() {
			_, _ = c.Verify(tok)
		}
	})
	b.Run("cache-miss", func(b *testing.B) {
		c := NewCache(v, 2, func() time.Time { return now })
		toks := make([]string, 8)
		for i := range toks {
			s := testSession()
			s.ID = fmt.Sprintf("ses_%d", i)
			toks[i], _ = Sign(k, s)
		}
		i := 0
		for b.Loop() {
			_, _ = c.Verify(toks[i%len(toks)])
			i++
		}
	})
}

// BenchmarkCacheMemory reports the heap a full Cache holds per entry
// (B/entry: the maps of both generations and what each entry keeps of
// its Session), the other hidden cost of the cache. Each iteration fills a
// fresh cache of 4,096 entries with distinct tokens.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 4096
	k := mustKey(b)
	now := epoch
	v := testVerifier(&now, k)
	toks := make([]string, n)
	for i := range toks {
		s := testSession()
		s.ID = fmt.Sprintf("ses_%06d", i)
		s.PlayerID = fmt.Sprintf("player-%06d", i)
		var err error
		if toks[i], err = Sign(k, s); err != nil {
			b.Fatal(err)
		}
	}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := NewCache(v, n, func() time.Time { return now })
		for _, tok := range toks {
			if _, err := c.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.Len() != n {
			b.Fatalf("%d entries cached, want %d", c.Len(), n)
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(c)
	}
	b.ReportMetric(perEntry, "B/entry")
	b.ReportMetric(float64(len(toks[0])), "B/token")
}

// TestHashToken: the stack-buffered hash is SHA-256 of the token, on both
// sides of the buffer's size.
func TestHashToken(t *testing.T) {
	for _, n := range []int{0, 1, 32, 33, 366, 1023, 1024, 1025, MaxTokenLen} {
		tok := strings.Repeat("a.b-", n/4+1)[:n]
		if got, want := hashToken(tok), sha256.Sum256([]byte(tok)); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
}
