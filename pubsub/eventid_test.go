package pubsub

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestEventIDRoundTrip(t *testing.T) {
	p := newPosition(1_700_000_000_000)
	p.advance(0xdeadbeefcafef00d, 1000, 5)
	p.advance(1, 1, 6)
	p.advance(^uint64(0), 1<<40, 7)
	id := p.encode()
	if strings.ContainsAny(id, "\r\n\x00:") {
		t.Fatalf("id %q is not SSE-safe", id)
	}
	got, err := decodeEventID(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.since != p.since || len(got.streams) != 3 {
		t.Fatalf("got %+v", got)
	}
	for e, sp := range p.streams {
		if got.streams[e].seq != sp.seq {
			t.Errorf("epoch %x: seq %d, want %d", e, got.streams[e].seq, sp.seq)
		}
	}
}

func TestEventIDTrimRaisesSince(t *testing.T) {
	p := newPosition(0)
	for e := uint64(1); e <= maxPosStreams+1; e++ {
		p.advance(e, 1, int64(e)*1e9) // epoch 1 is the least recently active
	}
	if len(p.streams) != maxPosStreams {
		t.Fatalf("%d streams kept", len(p.streams))
	}
	if _, ok := p.streams[1]; ok {
		t.Fatal("the oldest stream was kept")
	}
	if p.since <= 1000 {
		t.Fatalf("since %d not raised past the dropped stream", p.since)
	}
	if len(p.encode()) > maxEventIDLen {
		t.Fatalf("a full position encodes to %d > %d", len(p.encode()), maxEventIDLen)
	}
}

func TestDecodeEventIDRejects(t *testing.T) {
	good := newPosition(5)
	good.advance(9, 3, 0)
	tests := map[string]string{
		"empty":      "",
		"version":    "2" + good.encode()[1:],
		"not base64": "1***",
		"truncated":  good.encode()[:6],
		"too long":   "1" + strings.Repeat("A", maxEventIDLen),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeEventID(in); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzDecodeEventID(f *testing.F) {
	p := newPosition(1_700_000_000_000)
	p.advance(42, 7, 0)
	p.advance(43, 1<<33, 0)
	f.Add(p.encode())
	f.Add("1AA")
	f.Add("1")
	f.Add("1_-_-_-_-_-_-")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeEventID(s)
		if err != nil {
			return
		}
		again, err := decodeEventID(got.encode())
		if err != nil {
			t.Fatalf("re-decode of %q: %v", got.encode(), err)
		}
		if again.since != got.since || !maps.EqualFunc(again.streams, got.streams,
			func(a, b streamPos) bool { return a.seq == b.seq }) {
			t.Fatalf("round trip changed %+v to %+v", got, again)
		}
	})
}

func TestMessageIDFormat(t *testing.T) {
	for _, e := range []uint64{0, 1, 0xdeadbeef, 1<<64 - 1} {
		if got, want := MessageID("n1", e, 42), "n1:"+fmt.Sprintf("%016x", e)+":42"; got != want {
			t.Fatalf("MessageID = %q, want %q", got, want)
		}
	}
}
