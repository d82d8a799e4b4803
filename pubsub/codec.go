package pubsub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Wire limits. Everything read from the network is bounded by these
// before it is allocated or trusted.
const (
	maxOriginLen       = 64
	maxContentTypeLen  = 255
	envelopeOverhead   = 512 // envelope fields besides the payload
	maxRequestBytes    = 1024
	maxBackfillBatch   = 512     // messages in one response
	maxResponseBudget  = 4 << 20 // a server stops adding messages past this
	maxSummaryStreams  = 1024
	maxBackfillRange   = 1 << 20 // to-from of one request
	maxBatchLen        = 1024    // messages in one gossip batch
	defaultContentType = "application/octet-stream"
)

// errDecode marks malformed network input.
var errDecode = errors.New("pubsub: malformed input")

// The codecs are vtprotobuf's generated ones (*_vtproto.pb.go): no
// reflection. They differ from proto.Unmarshal in three ways this file
// makes up for:
//   - they do not validate UTF-8: checkEnvelope and checkBatch check every
//     string an accepted envelope keeps;
//   - they recurse into nested batches without a depth limit: shapeOK
//     refuses, before anything is decoded, what the checks would refuse
//     anyway (a batch inside a batch, too many messages);
//   - they refuse a known field sent with another wire type, which
//     proto.Unmarshal keeps as an unknown field: on any decoder error the
//     input is decoded again by proto.Unmarshal, so nothing the previous
//     decoder accepted is refused now (FuzzVTEquivalence).

// encodeEnvelope serialises env. The result is a fresh buffer, never
// shared: Topic.Publish keeps a reference to it.
func encodeEnvelope(env *cassnetv1.Envelope) ([]byte, error) {
	b, err := env.MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("pubsub: encode envelope: %w", err)
	}
	return b, nil
}

// unmarshalEnvelope decodes b into a new envelope whose payloads and
// strings share b's memory, so b must never be modified afterwards (the
// data of a received GossipSub message is not: GossipSub's cache
// forwards it as it is). maxBatch bounds the messages of the batch field
// (0: none). The checks still have to run on the result (detach after
// them).
func unmarshalEnvelope(b []byte, maxBatch int) (*cassnetv1.Envelope, error) {
	if !shapeOK(b, envelopeBatchField, maxBatch, true) {
		return nil, fmt.Errorf("%w: envelope: more than %d batch messages, or a nested batch", errDecode, maxBatch)
	}
	env := new(cassnetv1.Envelope)
	if err := env.UnmarshalVTUnsafe(b); err != nil {
		env = new(cassnetv1.Envelope)
		if err := proto.Unmarshal(b, env); err != nil {
			return nil, fmt.Errorf("%w: envelope: %v", errDecode, err)
		}
	}
	return env, nil
}

// envelopeBatchField is Envelope.batch's field number.
const envelopeBatchField = 9

// shapeOK walks the top-level fields of an encoded message and reports
// false when field (a repeated message) occurs more than maxItems times
// or, with noBatchInside, when one of its occurrences has a batch field
// of its own: what the checks refuse, found before anything is allocated
// and before the generated decoder, which has no recursion limit, would
// descend into nested batches. Bytes that do not walk as protobuf are
// refused too, as proto.Unmarshal refuses them: varints over 64 bits,
// field numbers outside 1..2^29-1 (the generated decoder truncates a
// larger one to 32 bits: 2^32+9 would be the batch field), lengths past
// the end, malformed groups (which the generated decoder would skip).
// The common wire types are walked here, groups by protowire.
func shapeOK(b []byte, field protowire.Number, maxItems int, noBatchInside bool) bool {
	items := 0
	for i := 0; i < len(b); {
		tag, n := shapeVarint(b[i:])
		if n < 0 {
			return false
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if tag>>3 == 0 || tag>>3 > uint64(protowire.MaxValidNumber) {
			return false
		}
		i += n
		switch typ {
		case protowire.VarintType:
			if _, n = shapeVarint(b[i:]); n < 0 {
				return false
			}
			i += n
		case protowire.Fixed64Type, protowire.Fixed32Type:
			n = 8
			if typ == protowire.Fixed32Type {
				n = 4
			}
			if len(b)-i < n {
				return false
			}
			i += n
		case protowire.BytesType:
			l, n := shapeVarint(b[i:])
			if n < 0 || l > uint64(len(b)-i-n) {
				return false
			}
			i += n
			inner := b[i : i+int(l)]
			i += int(l)
			if num == field {
				items++
				if items > maxItems || noBatchInside && !shapeOK(inner, envelopeBatchField, 0, false) {
					return false
				}
			}
		default:
			m := protowire.ConsumeFieldValue(num, typ, b[i:])
			if m < 0 {
				return false
			}
			i += m
		}
	}
	return true
}

// shapeVarint decodes a varint of at most 64 bits as protowire does (n < 0:
// malformed or over 64 bits).
func shapeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < binary.MaxVarintLen64; i++ {
		c := b[i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// decodeEnvelope parses and checks an envelope read from the network:
// payloads over maxPayload, unknown kinds, empty origins or epochs and
// zero sequence numbers are refused. The result shares b's memory
// (unmarshalEnvelope).
func decodeEnvelope(b []byte, maxPayload int) (*cassnetv1.Envelope, error) {
	if len(b) > maxPayload+envelopeOverhead {
		return nil, fmt.Errorf("%w: envelope of %d bytes exceeds the limit", errDecode, len(b))
	}
	env, err := unmarshalEnvelope(b, 0)
	if err != nil {
		return nil, err
	}
	if err := checkEnvelope(env, maxPayload); err != nil {
		return nil, err
	}
	detach(env)
	return env, nil
}

// decodeGossip parses and checks the data of a GossipSub message of at
// most maxBytes: a message or head envelope (as decodeEnvelope), or a
// batch whose messages are each checked and must be of the batch's origin
// and epoch, in increasing sequence order. The payloads of the result
// share b's memory (unmarshalEnvelope).
func decodeGossip(b []byte, maxPayload, maxBytes int) (*cassnetv1.Envelope, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: gossip message of %d bytes exceeds the limit", errDecode, len(b))
	}
	env, err := unmarshalEnvelope(b, maxBatchLen)
	if err != nil {
		return nil, err
	}
	if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
		if len(b) > maxPayload+envelopeOverhead {
			return nil, fmt.Errorf("%w: envelope of %d bytes exceeds the limit", errDecode, len(b))
		}
		if err := checkEnvelope(env, maxPayload); err != nil {
			return nil, err
		}
		detach(env)
		return env, nil
	}
	if err := checkBatch(env, maxPayload); err != nil {
		return nil, err
	}
	detach(env)
	return env, nil
}

// detach gives a checked envelope decoded by unmarshalEnvelope strings of
// their own, so that a stream's origin or a retained content type does
// not keep a whole gossip message alive, and caps each payload at its
// length, so that an append to one cannot write over the buffer it shares
// with its neighbours. A batch's messages share one origin and, usually,
// one content type: one copy each.
func detach(env *cassnetv1.Envelope) {
	origin := strings.Clone(env.Origin)
	var rawType, ownType string
	own := func(e *cassnetv1.Envelope) {
		e.Origin = origin
		if e.ContentType != rawType {
			rawType, ownType = e.ContentType, strings.Clone(e.ContentType)
		}
		e.ContentType = ownType
		e.Payload = slices.Clip(e.Payload)
	}
	own(env)
	for _, e := range env.Batch {
		own(e)
	}
}

// checkBatch checks a batch envelope and every message in it.
func checkBatch(env *cassnetv1.Envelope, maxPayload int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: batch: "+format, append([]any{errDecode}, args...)...)
	}
	batch := env.GetBatch()
	switch {
	case len(batch) == 0 || len(batch) > maxBatchLen:
		return bad("%d messages", len(batch))
	case env.GetOrigin() == "" || len(env.GetOrigin()) > maxOriginLen || !utf8.ValidString(env.GetOrigin()):
		return bad("bad origin")
	case env.GetEpoch() == 0:
		return bad("zero epoch")
	case len(env.GetPayload()) > 0 || env.GetContentType() != "":
		return bad("payload on the batch itself")
	}
	var prev uint64
	for _, e := range batch {
		if e.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_MESSAGE {
			return bad("kind %d inside a batch", e.GetKind())
		}
		if len(e.GetBatch()) > 0 {
			return bad("nested batch")
		}
		if err := checkEnvelope(e, maxPayload); err != nil {
			return err
		}
		if e.GetOrigin() != env.GetOrigin() || e.GetEpoch() != env.GetEpoch() {
			return bad("message of another stream")
		}
		if e.GetSeq() <= prev {
			return bad("sequence numbers not increasing")
		}
		prev = e.GetSeq()
	}
	return nil
}

func checkEnvelope(env *cassnetv1.Envelope, maxPayload int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: envelope: "+format, append([]any{errDecode}, args...)...)
	}
	switch {
	case env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_MESSAGE && env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD:
		return bad("unknown kind %d", env.GetKind())
	case env.GetOrigin() == "" || len(env.GetOrigin()) > maxOriginLen || !utf8.ValidString(env.GetOrigin()):
		return bad("bad origin")
	case env.GetEpoch() == 0:
		return bad("zero epoch")
	case env.GetSeq() == 0:
		return bad("zero sequence number")
	case len(env.GetPayload()) > maxPayload:
		return bad("payload of %d bytes exceeds %d", len(env.GetPayload()), maxPayload)
	case len(env.GetContentType()) > maxContentTypeLen || !printable(env.GetContentType()):
		return bad("bad content type")
	case env.GetKind() == cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD && len(env.GetPayload()) > 0:
		return bad("head announcement with a payload")
	case len(env.GetBatch()) > 0:
		return bad("batch field on a single envelope")
	}
	return nil
}

// printable reports whether s is visible ASCII (a media type).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// frameMessage is a message with a generated codec (the backfill
// messages).
type frameMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
}

// writeFrame writes m with a uvarint length prefix, in one write.
func writeFrame(w io.Writer, m frameMessage) error {
	size := m.SizeVT()
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+size), uint64(size))
	hdr := len(b)
	b = b[:hdr+size]
	if _, err := m.MarshalToSizedBufferVT(b[hdr:]); err != nil {
		return fmt.Errorf("pubsub: encode frame: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("pubsub: write frame: %w", err)
	}
	return nil
}

// readFrame reads one length-prefixed frame of at most limit bytes.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("pubsub: read frame length: %w", err)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds %d", errDecode, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("pubsub: read frame: %w", err)
	}
	return b, nil
}

// decodeBackfillRequest parses and checks a request read from a peer.
func decodeBackfillRequest(b []byte) (*cassnetv1.BackfillRequest, error) {
	if len(b) > maxRequestBytes {
		return nil, fmt.Errorf("%w: request too large", errDecode)
	}
	req := new(cassnetv1.BackfillRequest)
	if err := req.UnmarshalVT(b); err != nil {
		req = new(cassnetv1.BackfillRequest)
		if err := proto.Unmarshal(b, req); err != nil {
			return nil, fmt.Errorf("%w: request: %v", errDecode, err)
		}
	}
	if !utf8.ValidString(req.GetTopic()) {
		return nil, fmt.Errorf("%w: request: topic is not UTF-8", errDecode)
	}
	if err := parseTopicName(req.GetTopic()); err != nil {
		return nil, fmt.Errorf("%w: request: %v", errDecode, err)
	}
	if req.GetSummary() {
		return req, nil
	}
	from, to := req.GetFromSeq(), req.GetToSeq()
	if req.GetEpoch() == 0 || from == 0 || to < from || to-from >= maxBackfillRange {
		return nil, fmt.Errorf("%w: request: bad epoch or range %d..%d", errDecode, from, to)
	}
	return req, nil
}

// The repeated fields of BackfillResponse.
const (
	backfillMessagesField = 1
	backfillStreamsField  = 2
)

// maxResponseBytes bounds a backfill response frame for a payload limit.
func maxResponseBytes(maxPayload int) int {
	return maxResponseBudget + maxPayload + envelopeOverhead + maxSummaryStreams*(maxOriginLen+64)
}

// decodeBackfillResponse parses and checks a response read from a peer.
func decodeBackfillResponse(b []byte, maxPayload int) (*cassnetv1.BackfillResponse, error) {
	if len(b) > maxResponseBytes(maxPayload) {
		return nil, fmt.Errorf("%w: response too large", errDecode)
	}
	if !shapeOK(b, backfillMessagesField, maxBackfillBatch, true) || !shapeOK(b, backfillStreamsField, maxSummaryStreams, false) {
		return nil, fmt.Errorf("%w: response: too many entries, or a batch in a backfill", errDecode)
	}
	// Backfill is rare: the safe decoder copies what the history keeps.
	resp := new(cassnetv1.BackfillResponse)
	if err := resp.UnmarshalVT(b); err != nil {
		resp = new(cassnetv1.BackfillResponse)
		if err := proto.Unmarshal(b, resp); err != nil {
			return nil, fmt.Errorf("%w: response: %v", errDecode, err)
		}
	}
	if !utf8.ValidString(resp.GetError()) {
		return nil, fmt.Errorf("%w: response: error is not UTF-8", errDecode)
	}
	if len(resp.GetMessages()) > maxBackfillBatch || len(resp.GetStreams()) > maxSummaryStreams {
		return nil, fmt.Errorf("%w: response: too many entries", errDecode)
	}
	for _, env := range resp.GetMessages() {
		if err := checkEnvelope(env, maxPayload); err != nil {
			return nil, err
		}
		if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_MESSAGE {
			return nil, fmt.Errorf("%w: response: head announcement in a backfill", errDecode)
		}
	}
	for _, st := range resp.GetStreams() {
		if st.GetEpoch() == 0 || st.GetOrigin() == "" || len(st.GetOrigin()) > maxOriginLen || !utf8.ValidString(st.GetOrigin()) {
			return nil, fmt.Errorf("%w: response: bad stream summary", errDecode)
		}
	}
	return resp, nil
}
