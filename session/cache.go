package session

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCacheSize is the number of verified tokens a Cache remembers.
const DefaultCacheSize = 65536

// Cache remembers tokens whose signature and claims verified, so that a
// token verified again (a game server checks a player's session on every
// connect, match and reconnect) costs a SHA-256 and a map lookup instead
// of an Ed25519 verification (about 50 µs of CPU here).
//
// What is cached and what is not:
//   - Only successes: a token that failed (invalid or expired) is
//     verified in full every time, so garbage cannot fill the cache.
//   - The key is SHA-256 of the whole token string: any change to the
//     token, header, claims or signature, is a different entry.
//   - On every hit the kid must still be trusted (the KeyLookup is asked
//     again, so a retired and pruned key stops verifying at once), and
//     expiry and not-before are checked at the current time. Revocations
//     and bans are the caller's business and are checked on every call
//     as before (api.verifySession).
//
// Cost (measured in docs/benchmarks.md): a SHA-256 per call, hit or miss;
// up to size entries of about 330 bytes each (BenchmarkCacheMemory: 328 B
// an entry with 366-byte tokens; about 21 MB at the default); a hit
// answers faster than a miss, so the time of a call tells whether the
// same token was verified recently (the token is the secret,
// and whoever has it learns nothing new). Eviction is by two generations:
// when the current one is full, it becomes the old one and the old one is
// dropped; a hit in the old generation moves the entry back. So a token
// in use stays, and memory is bounded by 2 × size/2 entries.
//
// A Cache is safe for concurrent use.
type Cache struct {
	v    *Verifier
	now  func() time.Time
	half int

	mu        sync.Mutex
	cur, prev map[[32]byte]cached

	hits, misses atomic.Uint64
}

type cached struct {
	s   Session
	kid string
	nbf time.Time
}

// NewCache returns a Cache of size entries (DefaultCacheSize if size is
// 0 or less) in front of v; now decides expiry on hits.
func NewCache(v *Verifier, size int, now func() time.Time) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	half := max(size/2, 1)
	return &Cache{v: v, now: now, half: half, cur: make(map[[32]byte]cached, half), prev: map[[32]byte]cached{}}
}

// Verify is Verifier.Verify with the cache: the same results, the same
// errors.
func (c *Cache) Verify(token string) (Session, error) {
	if len(token) == 0 || len(token) > MaxTokenLen {
		return Session{}, ErrInvalid
	}
	key := hashToken(token)
	c.mu.Lock()
	e, ok := c.cur[key]
	if !ok {
		if e, ok = c.prev[key]; ok {
			delete(c.prev, key)
			c.putLocked(key, e)
		}
	}
	c.mu.Unlock()
	if ok {
		if _, trusted := c.v.lookup(e.kid); !trusted {
			c.forget(key)
			c.misses.Add(1)
			return Session{}, ErrInvalid
		}
		now := c.now()
		switch {
		case !now.Before(e.s.ExpiresAt):
			c.forget(key)
			c.hits.Add(1)
			return e.s, ErrExpired
		case !e.nbf.IsZero() && now.Before(e.nbf):
			c.misses.Add(1) // cannot happen for a cached success; be strict
			return Session{}, ErrInvalid
		}
		c.hits.Add(1)
		return e.s, nil
	}
	c.misses.Add(1)
	s, kid, nbf, err := c.v.verify(token)
	if err == nil {
		c.mu.Lock()
		c.putLocked(key, cached{s: s, kid: kid, nbf: nbf})
		c.mu.Unlock()
	}
	return s, err
}

// hashToken is SHA-256 of token. Tokens up to 1 KiB (all ours: a few
// hundred bytes) are copied into a buffer on the stack, not onto the heap
// as []byte(token) would for anything over 32 bytes: one allocation less
// per verification.
func hashToken(token string) [sha256.Size]byte {
	var buf [1024]byte
	return sha256.Sum256(append(buf[:0], token...))
}

func (c *Cache) putLocked(key [32]byte, e cached) {
	if len(c.cur) >= c.half {
		c.prev, c.cur = c.cur, make(map[[32]byte]cached, c.half)
	}
	c.cur[key] = e
}

func (c *Cache) forget(key [32]byte) {
	c.mu.Lock()
	delete(c.cur, key)
	delete(c.prev, key)
	c.mu.Unlock()
}

// Stats returns the hits and misses so far.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
