package bans

import (
	"encoding/binary"
	"encoding/json"
	"time"
)

// A stored ban is one string, its record: a ban lives in the state for as
// long as it is kept, and every garbage-collection cycle of the node marks
// the whole state again, however little the node allocates meanwhile (for
// messaging, say). What a cycle costs is the pointers it follows, so a
// record holds none: the collector sees one pointer-free allocation where
// a *Ban was ten pointer slots in one object and its strings in seven
// others. docs/benchmarks.md, "Issue 17, twelfth session", has the
// figures. Decoding a record allocates nothing: the strings of a decoded
// ban are substrings of the record.
//
// A record is the uvarint length of its body, then the body:
//
//	flags (1 byte: 1 = has expiry, 2 = revoked)
//	expires, if flagged: varint Unix seconds, uvarint nanoseconds
//	revoked, if flagged: the same
//	project: a uvarint length, then the bytes
//	created: as expires
//	id, tenant, player, reason, created_by, revoked_by: as project
//
// What a ban check needs (the flags, the times that end a ban, its
// project) comes first, so it reads no further for most bans (head).
//
// Because a record carries its own length, the records of one player's
// bans concatenated are the byPlayer index's value, and a player with one
// ban (the common case) shares the record itself.
type record string

const (
	flagExpires = 1 << iota
	flagRevoked
)

// encode returns b's record. Times keep their instant to the nanosecond;
// their location is dropped (the state keeps UTC).
func encode(b *Ban) record {
	var flags byte
	n := 1 + binary.MaxVarintLen64 + len(b.ProjectID) + binary.MaxVarintLen64 + binary.MaxVarintLen32
	if b.ExpiresAt != nil {
		flags |= flagExpires
		n += binary.MaxVarintLen64 + binary.MaxVarintLen32
	}
	if b.RevokedAt != nil {
		flags |= flagRevoked
		n += binary.MaxVarintLen64 + binary.MaxVarintLen32
	}
	strs := [...]string{b.ID, b.Tenant, b.PlayerID, b.Reason, b.CreatedBy, b.RevokedBy}
	for _, s := range strs {
		n += binary.MaxVarintLen64 + len(s)
	}
	body := make([]byte, 0, n)
	body = append(body, flags)
	if b.ExpiresAt != nil {
		body = appendTime(body, *b.ExpiresAt)
	}
	if b.RevokedAt != nil {
		body = appendTime(body, *b.RevokedAt)
	}
	body = appendString(body, b.ProjectID)
	body = appendTime(body, b.CreatedAt)
	for _, s := range strs {
		body = appendString(body, s)
	}
	out := make([]byte, 0, binary.MaxVarintLen64+len(body))
	out = binary.AppendUvarint(out, uint64(len(body)))
	return record(append(out, body...))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// view is a decoded record. Its strings share the record's memory.
type view struct {
	head
	created                                          time.Time
	id, tenant, player, reason, createdBy, revokedBy string
}

// recordReader reads a record's fields in order; any overrun sets bad.
type recordReader struct {
	s   string
	bad bool
}

func (r *recordReader) uvarint() uint64 {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(r.s) == 0 {
			break
		}
		c := r.s[0]
		r.s = r.s[1:]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
	r.bad = true
	return 0
}

func (r *recordReader) time() time.Time {
	u := r.uvarint()
	sec := int64(u>>1) ^ -int64(u&1) // zigzag, as binary.AppendVarint
	nsec := r.uvarint()
	if nsec >= uint64(time.Second) {
		r.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.bad = true
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// head is the part of a record a ban check reads: whether and when the
// ban ends, and its project.
type head struct {
	expires, revoked       time.Time
	hasExpires, hasRevoked bool
	project                string
}

// nextHead splits the first record off rs (a concatenation of records),
// decodes its head and returns the rest of its body in tail. ok is false
// when rs is empty or malformed.
func nextHead(rs string) (h head, tail, rest string, ok bool) {
	r := recordReader{s: rs}
	n := r.uvarint()
	if r.bad || n == 0 || n > uint64(len(r.s)) {
		return head{}, "", "", false
	}
	rest = r.s[n:]
	r.s = r.s[:n]
	flags := r.s[0]
	r.s = r.s[1:]
	if flags&^(flagExpires|flagRevoked) != 0 {
		return head{}, "", "", false
	}
	if h.hasExpires = flags&flagExpires != 0; h.hasExpires {
		h.expires = r.time()
	}
	if h.hasRevoked = flags&flagRevoked != 0; h.hasRevoked {
		h.revoked = r.time()
	}
	h.project = r.str()
	if r.bad {
		return head{}, "", "", false
	}
	return h, r.s, rest, true
}

// head decodes the head of rec's only record.
func (rec record) head() head {
	h, _, _, ok := nextHead(string(rec))
	if !ok {
		panic("bans: corrupt stored record")
	}
	return h
}

// next splits the first record off rs and decodes all of it.
func next(rs string) (v view, rest string, ok bool) {
	h, tail, rest, ok := nextHead(rs)
	if !ok {
		return view{}, "", false
	}
	v, ok = h.full(tail)
	return v, rest, ok
}

// full decodes the rest of a record after its head.
func (h *head) full(tail string) (view, bool) {
	r := recordReader{s: tail}
	v := view{head: *h}
	v.created = r.time()
	v.id, v.tenant, v.player = r.str(), r.str(), r.str()
	v.reason, v.createdBy, v.revokedBy = r.str(), r.str(), r.str()
	if r.bad || len(r.s) != 0 {
		return view{}, false
	}
	return v, true
}

// decode returns rec's only record. The state holds only what encode
// made, so a record that does not decode is a bug in this file: it
// panics rather than hand out a ban that is not the one stored.
func (rec record) decode() view {
	v, rest, ok := next(string(rec))
	if !ok || rest != "" {
		panic("bans: corrupt stored record")
	}
	return v
}

// each calls fn for every record of a concatenation, in order.
func each(rs string, fn func(rec record, v view)) {
	for rs != "" {
		v, rest, ok := next(rs)
		if !ok {
			panic("bans: corrupt stored record list")
		}
		fn(record(rs[:len(rs)-len(rest)]), v)
		rs = rest
	}
}

// activeAt reports whether the ban is in force at t (Ban.ActiveAt).
func (v *head) activeAt(t time.Time) bool {
	return !v.hasRevoked && (!v.hasExpires || t.Before(v.expires))
}

// endedAt is when the ban stopped being in force (revoked or expired,
// whichever is first); false while it can still be in force forever.
func (v *head) endedAt() (time.Time, bool) {
	switch {
	case v.hasRevoked && (!v.hasExpires || v.revoked.Before(v.expires)):
		return v.revoked, true
	case v.hasExpires:
		return v.expires, true
	}
	return time.Time{}, false
}

// ban returns the ban as the read accessors give it: a value whose time
// pointers are its own.
func (v *view) ban() Ban {
	b := Ban{
		ID: v.id, Tenant: v.tenant, ProjectID: v.project, PlayerID: v.player,
		Reason: v.reason, CreatedBy: v.createdBy, CreatedAt: v.created, RevokedBy: v.revokedBy,
	}
	if v.hasExpires {
		t := v.expires
		b.ExpiresAt = &t
	}
	if v.hasRevoked {
		t := v.revoked
		b.RevokedAt = &t
	}
	return b
}

// MarshalJSON writes the ban a record holds, as a snapshot stores it.
func (rec record) MarshalJSON() ([]byte, error) {
	v := rec.decode()
	b := v.ban()
	return json.Marshal(&b)
}
