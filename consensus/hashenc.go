package consensus

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
)

// HashEncoder writes the canonical binary form that the state hash
// digests: every string and byte slice is length-prefixed, integers are
// fixed-width big-endian, a time is its Unix seconds and nanoseconds (so
// the location and monotonic reading never matter), and an optional time
// is a presence byte followed by the time. Sections are tagged and
// counted, so two different states cannot encode to the same bytes.
type HashEncoder struct {
	h   hash.Hash
	buf []byte // pending bytes, flushed to h in large chunks
}

func newHashEncoder() *HashEncoder { return &HashEncoder{h: sha256.New()} }

func (e *HashEncoder) maybeFlush() {
	if len(e.buf) >= 32<<10 {
		e.flush()
	}
}

func (e *HashEncoder) flush() {
	e.h.Write(e.buf)
	e.buf = e.buf[:0]
}

func (e *HashEncoder) sum() []byte {
	e.flush()
	return e.h.Sum(nil)
}

// U64 writes v.
func (e *HashEncoder) U64(v uint64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, v)
	e.maybeFlush()
}

// Str writes s, length-prefixed.
func (e *HashEncoder) Str(s string) {
	e.U64(uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.maybeFlush()
}

// Bytes writes b, length-prefixed.
func (e *HashEncoder) Bytes(b []byte) {
	e.U64(uint64(len(b)))
	e.buf = append(e.buf, b...)
	e.maybeFlush()
}

// Time writes t as Unix seconds and nanoseconds.
func (e *HashEncoder) Time(t time.Time) {
	e.U64(uint64(t.Unix()))
	e.U64(uint64(t.Nanosecond()))
}

// OptTime writes a presence byte, then the time if t is not nil.
func (e *HashEncoder) OptTime(t *time.Time) {
	if t == nil {
		e.buf = append(e.buf, 0)
		return
	}
	e.buf = append(e.buf, 1)
	e.Time(*t)
}

// Section starts a tagged list of n items.
func (e *HashEncoder) Section(tag string, n int) {
	e.Str(tag)
	e.U64(uint64(n))
}
