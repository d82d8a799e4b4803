package consensus

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// CommandVersion is the envelope version this node writes and applies.
// A command with any other version is refused, never guessed at.
const CommandVersion = 1

// EncodeCommand serialises cmd for the Raft log. The error wraps ErrInvalid.
func EncodeCommand(cmd *cassnetv1.Command) ([]byte, error) {
	if cmd == nil {
		return nil, newError(ErrInvalid, "encode command: nil command")
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(cmd)
	if err != nil {
		return nil, newError(ErrInvalid, "encode command: %v", err)
	}
	return b, nil
}

// DecodeCommand parses a Raft log entry. It does not validate the command;
// see ValidateCommand. The error wraps ErrInvalid.
func DecodeCommand(b []byte) (*cassnetv1.Command, error) {
	cmd := new(cassnetv1.Command)
	if err := proto.Unmarshal(b, cmd); err != nil {
		return nil, newError(ErrInvalid, "decode command: %v", err)
	}
	return cmd, nil
}

// Hash returns the hex SHA-256 of a canonical encoding of all replicated
// data: tenants, projects, bans, operator tokens (their secret hashes
// included), settings, the retained audit log, API keys, signing keys and
// session revocations. The applied index is
// left out, so two nodes holding the same data hash equal even if one has
// since applied commands that were rejected; audit entries carry the index
// of the command that made them, so the history is still covered.
//
// It copies the state under the read lock and sorts and digests the copy
// outside it, so ban checks and Apply wait only for the copy. The result is
// remembered until the data next changes.
func (s *State) Hash() string {
	if m := s.hashMemo.Load(); m != nil && m.gen == s.generation() {
		return m.sum
	}
	d := s.snapshot()
	d.sort()
	sum := d.hash()
	s.hashMemo.Store(&hashMemo{gen: d.gen, sum: sum})
	return sum
}

// hashMemo is the last Hash result and the data generation it was taken at.
type hashMemo struct {
	gen uint64
	sum string
}

// hash digests the sorted copy. Every list is in the total order sort
// gives it, and each section is tagged and counted.
func (d *snapshotData) hash() string {
	e := &hashEncoder{h: sha256.New()}
	e.str("cassnet-state-v1")
	e.section("tenants", len(d.Tenants))
	for _, t := range d.Tenants {
		e.str(t.Name)
		e.time(t.CreatedAt)
		e.str(t.CreatedBy)
	}
	e.section("projects", len(d.Projects))
	for _, p := range d.Projects {
		e.str(p.Tenant)
		e.str(p.Name)
		e.time(p.CreatedAt)
		e.str(p.CreatedBy)
	}
	e.section("bans", len(d.Bans))
	for i := range d.Bans {
		e.ban(&d.Bans[i])
	}
	e.section("operator_tokens", len(d.OperatorTokens))
	for _, tok := range d.OperatorTokens {
		e.str(tok.ID)
		e.str(tok.Name)
		e.bytes(tok.SecretSHA256)
		e.time(tok.CreatedAt)
		e.optTime(tok.ExpiresAt)
	}
	e.section("settings", 2)
	e.u64(uint64(d.Settings.AuditRetention))
	e.u64(uint64(d.Settings.MaxSessionTTLSeconds))
	e.section("audit", len(d.Audit))
	for i := range d.Audit {
		e.audit(&d.Audit[i])
	}
	e.identity(d)
	e.section("gossip_keys", len(d.GossipKeys))
	for _, k := range d.GossipKeys {
		e.bytes(k)
	}
	e.joinTokens(d.JoinTokens)
	e.flush()
	return hex.EncodeToString(e.h.Sum(nil))
}

// hashEncoder writes the canonical binary form that State.Hash digests:
// every string and byte slice is length-prefixed, integers are fixed-width
// big-endian, a time is its Unix seconds and nanoseconds (so the location
// and monotonic reading never matter), and an optional time is a presence
// byte followed by the time. Sections are tagged and counted, so two
// different states cannot encode to the same bytes.
type hashEncoder struct {
	h   hash.Hash
	buf []byte // pending bytes, flushed to h in large chunks
}

func (e *hashEncoder) maybeFlush() {
	if len(e.buf) >= 32<<10 {
		e.flush()
	}
}

func (e *hashEncoder) flush() {
	e.h.Write(e.buf)
	e.buf = e.buf[:0]
}

func (e *hashEncoder) u64(v uint64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, v)
	e.maybeFlush()
}

func (e *hashEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.maybeFlush()
}

func (e *hashEncoder) bytes(b []byte) {
	e.u64(uint64(len(b)))
	e.buf = append(e.buf, b...)
	e.maybeFlush()
}

func (e *hashEncoder) time(t time.Time) {
	e.u64(uint64(t.Unix()))
	e.u64(uint64(t.Nanosecond()))
}

func (e *hashEncoder) optTime(t *time.Time) {
	if t == nil {
		e.buf = append(e.buf, 0)
		return
	}
	e.buf = append(e.buf, 1)
	e.time(*t)
}

// section starts a tagged list of n items.
func (e *hashEncoder) section(tag string, n int) {
	e.str(tag)
	e.u64(uint64(n))
}

func (e *hashEncoder) ban(b *Ban) {
	e.str(b.ID)
	e.str(b.Tenant)
	e.str(b.ProjectID)
	e.str(b.PlayerID)
	e.str(b.Reason)
	e.str(b.CreatedBy)
	e.time(b.CreatedAt)
	e.optTime(b.ExpiresAt)
	e.optTime(b.RevokedAt)
	e.str(b.RevokedBy)
}

func (e *hashEncoder) audit(a *AuditEntry) {
	e.u64(a.Index)
	e.time(a.Time)
	e.str(a.Actor)
	e.str(a.Action)
	e.str(a.Tenant)
	e.str(a.Target)
	e.str(a.Detail)
}

// identity digests the identity lists, each already in sort's order.
func (e *hashEncoder) identity(d *snapshotData) {
	e.section("api_keys", len(d.APIKeys))
	for _, k := range d.APIKeys {
		e.str(k.ID)
		e.str(k.Tenant)
		e.str(k.Name)
		e.str(k.Role)
		e.str(k.ProjectID)
		e.bytes(k.SecretSHA256)
		e.time(k.CreatedAt)
		e.str(k.CreatedBy)
		e.optTime(k.ExpiresAt)
		e.optTime(k.LastUsedAt)
	}
	e.section("signing_keys", len(d.SigningKeys))
	for _, k := range d.SigningKeys {
		e.str(k.KID)
		e.bytes(k.PrivateKey)
		e.time(k.CreatedAt)
		e.str(k.CreatedBy)
		e.optTime(k.RetiredAt)
	}
	e.section("session_revocations", len(d.SessionRevocations))
	for _, r := range d.SessionRevocations {
		e.str(r.Tenant)
		e.str(r.SessionID)
		e.time(r.RevokedAt)
		e.str(r.RevokedBy)
		e.time(r.ExpiresAt)
	}
	e.section("player_revocations", len(d.PlayerRevocations))
	for _, r := range d.PlayerRevocations {
		e.str(r.Tenant)
		e.str(r.PlayerID)
		e.str(r.ProjectID)
		e.time(r.RevokedAt)
		e.str(r.RevokedBy)
		e.time(r.ExpiresAt)
	}
}
