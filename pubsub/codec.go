package pubsub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
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

// encodeEnvelope serialises env. The result is a fresh buffer, never
// shared: Topic.Publish keeps a reference to it.
func encodeEnvelope(env *cassnetv1.Envelope) ([]byte, error) {
	b, err := proto.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("pubsub: encode envelope: %w", err)
	}
	return b, nil
}

// decodeEnvelope parses and checks an envelope read from the network:
// payloads over maxPayload, unknown kinds, empty origins or epochs and
// zero sequence numbers are refused.
func decodeEnvelope(b []byte, maxPayload int) (*cassnetv1.Envelope, error) {
	if len(b) > maxPayload+envelopeOverhead {
		return nil, fmt.Errorf("%w: envelope of %d bytes exceeds the limit", errDecode, len(b))
	}
	env := new(cassnetv1.Envelope)
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", errDecode, err)
	}
	if err := checkEnvelope(env, maxPayload); err != nil {
		return nil, err
	}
	return env, nil
}

// decodeGossip parses and checks the data of a GossipSub message of at
// most maxBytes: a message or head envelope (as decodeEnvelope), or a
// batch whose messages are each checked and must be of the batch's origin
// and epoch, in increasing sequence order.
func decodeGossip(b []byte, maxPayload, maxBytes int) (*cassnetv1.Envelope, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: gossip message of %d bytes exceeds the limit", errDecode, len(b))
	}
	env := new(cassnetv1.Envelope)
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", errDecode, err)
	}
	if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
		if len(b) > maxPayload+envelopeOverhead {
			return nil, fmt.Errorf("%w: envelope of %d bytes exceeds the limit", errDecode, len(b))
		}
		if err := checkEnvelope(env, maxPayload); err != nil {
			return nil, err
		}
		return env, nil
	}
	if err := checkBatch(env, maxPayload); err != nil {
		return nil, err
	}
	return env, nil
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

// writeFrame writes m with a uvarint length prefix.
func writeFrame(w io.Writer, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("pubsub: encode frame: %w", err)
	}
	hdr := binary.AppendUvarint(nil, uint64(len(b)))
	if _, err := w.Write(append(hdr, b...)); err != nil {
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
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: request: %v", errDecode, err)
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

// maxResponseBytes bounds a backfill response frame for a payload limit.
func maxResponseBytes(maxPayload int) int {
	return maxResponseBudget + maxPayload + envelopeOverhead + maxSummaryStreams*(maxOriginLen+64)
}

// decodeBackfillResponse parses and checks a response read from a peer.
func decodeBackfillResponse(b []byte, maxPayload int) (*cassnetv1.BackfillResponse, error) {
	if len(b) > maxResponseBytes(maxPayload) {
		return nil, fmt.Errorf("%w: response too large", errDecode)
	}
	resp := new(cassnetv1.BackfillResponse)
	if err := proto.Unmarshal(b, resp); err != nil {
		return nil, fmt.Errorf("%w: response: %v", errDecode, err)
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
		if st.GetEpoch() == 0 || st.GetOrigin() == "" || len(st.GetOrigin()) > maxOriginLen {
			return nil, fmt.Errorf("%w: response: bad stream summary", errDecode)
		}
	}
	return resp, nil
}
