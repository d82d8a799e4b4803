package pubsub

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
)

// Event id format (the SSE "id:" and Last-Event-ID):
//
//	"1" base64url-without-padding(
//	    uvarint(since, Unix milliseconds)
//	    { 8-byte big-endian epoch, uvarint(seq) }*   // ascending epochs
//	)
//
// It is a position vector, meaningful on every node: for each stream
// (an origin's epoch on this topic; epochs are random 64-bit values, so an
// epoch alone names its origin) the last sequence number the subscriber
// was given. Streams absent from the vector are replayed from messages
// published at or after since. At most maxPosStreams streams are kept: the
// least recently active are dropped and since is raised past them.
const (
	eventIDVersion = '1'
	maxPosStreams  = 64
	// maxEventIDLen bounds what DecodeEventID reads: 1 + base64 of
	// 10 + 64*(8+10) bytes.
	maxEventIDLen = 1 + (10+maxPosStreams*18+2)/3*4
)

// position is a subscriber's place in one topic.
type position struct {
	since   int64 // Unix milliseconds
	streams map[uint64]streamPos
}

// streamPos is the subscriber's place in one stream.
type streamPos struct {
	seq  uint64
	last int64 // publish time (Unix ns) of seq when known; not encoded
}

func newPosition(sinceMillis int64) position {
	return position{since: sinceMillis, streams: make(map[uint64]streamPos)}
}

// advance records that the subscriber was given seq of epoch (or a gap up
// to seq). Positions never move backwards.
func (p *position) advance(epoch, seq uint64, last int64) {
	cur := p.streams[epoch]
	if seq < cur.seq {
		return
	}
	if last == 0 {
		last = cur.last
	}
	p.streams[epoch] = streamPos{seq: seq, last: last}
	p.trim()
}

// trim drops the least recently active streams beyond maxPosStreams and
// raises since past them, so that a resume does not replay them whole.
func (p *position) trim() {
	for len(p.streams) > maxPosStreams {
		var oldest uint64
		first := true
		for e, sp := range p.streams {
			if first || sp.last < p.streams[oldest].last {
				oldest, first = e, false
			}
		}
		if ms := p.streams[oldest].last/1e6 + 1; ms > p.since {
			p.since = ms
		}
		delete(p.streams, oldest)
	}
}

func (p position) clone() position {
	q := position{since: p.since, streams: make(map[uint64]streamPos, len(p.streams))}
	for e, sp := range p.streams {
		q.streams[e] = sp
	}
	return q
}

// encode renders p as an event id.
func (p position) encode() string {
	// Made for every event delivered (issue 17 profiles): sorted and
	// encoded in stack buffers when there are few streams, one allocation
	// for the result.
	var epochArr [16]uint64
	epochs := epochArr[:0]
	for e := range p.streams {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	var rawArr [binary.MaxVarintLen64 + 16*(8+binary.MaxVarintLen64)]byte
	b := rawArr[:0]
	b = binary.AppendUvarint(b, uint64(max(p.since, 0)))
	for _, e := range epochs {
		b = binary.BigEndian.AppendUint64(b, e)
		b = binary.AppendUvarint(b, p.streams[e].seq)
	}
	var outArr [1 + (len(rawArr)+2)/3*4]byte
	out := append(outArr[:0], eventIDVersion)
	out = base64.RawURLEncoding.AppendEncode(out, b)
	return string(out)
}

// decodeEventID parses an event id produced by encode. It reads untrusted
// input (a client header) and never panics; errors wrap ErrInvalid.
func decodeEventID(s string) (position, error) {
	bad := func(why string) (position, error) {
		return position{}, fmt.Errorf("%w: Last-Event-ID: %s", ErrInvalid, why)
	}
	if len(s) == 0 || len(s) > maxEventIDLen {
		return bad("empty or too long")
	}
	if s[0] != eventIDVersion {
		return bad("unknown version")
	}
	b, err := base64.RawURLEncoding.DecodeString(s[1:])
	if err != nil {
		return bad("not base64url")
	}
	since, n := binary.Uvarint(b)
	if n <= 0 || since > 1<<62 {
		return bad("bad time")
	}
	b = b[n:]
	p := newPosition(int64(since))
	var prev uint64
	for len(b) > 0 {
		if len(b) < 9 || len(p.streams) == maxPosStreams {
			return bad("truncated or too many streams")
		}
		e := binary.BigEndian.Uint64(b)
		seq, n := binary.Uvarint(b[8:])
		if n <= 0 {
			return bad("bad sequence number")
		}
		if e == 0 || (len(p.streams) > 0 && e <= prev) {
			return bad("epochs must be non-zero and ascending")
		}
		p.streams[e] = streamPos{seq: seq}
		prev, b = e, b[8+n:]
	}
	return p, nil
}
