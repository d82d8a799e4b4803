package pubsub

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/internal/wiretest"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// refDecodeGossip is decodeGossip as it was with proto.Unmarshal: the
// reference FuzzVTEquivalence holds the generated decoder to.
func refDecodeGossip(b []byte, maxPayload, maxBytes int) (*cassnetv1.Envelope, error) {
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: too large", errDecode)
	}
	env := new(cassnetv1.Envelope)
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", errDecode, err)
	}
	if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
		if len(b) > maxPayload+envelopeOverhead {
			return nil, fmt.Errorf("%w: too large", errDecode)
		}
		return env, checkEnvelope(env, maxPayload)
	}
	return env, checkBatch(env, maxPayload)
}

// checkRoundTrip fails unless the generated encoder's bytes for m read
// back equal with proto.Unmarshal, and SizeVT is proto.Size.
func checkRoundTrip[M interface {
	proto.Message
	MarshalVT() ([]byte, error)
	SizeVT() int
}](t *testing.T, m M, fresh func() M) {
	t.Helper()
	b, err := m.MarshalVT()
	if err != nil {
		t.Fatalf("MarshalVT: %v", err)
	}
	if m.SizeVT() != len(b) || proto.Size(m) != len(b) {
		t.Fatalf("SizeVT %d, proto.Size %d, encoded %d bytes", m.SizeVT(), proto.Size(m), len(b))
	}
	back := fresh()
	if err := proto.Unmarshal(b, back); err != nil {
		t.Fatalf("proto.Unmarshal of MarshalVT's bytes: %v", err)
	}
	if !proto.Equal(m, back) {
		t.Fatalf("MarshalVT's bytes read back differently:\n%v\n%v", m, back)
	}
}

// FuzzVTEquivalence holds decodeGossip (vtprotobuf's generated decoder,
// unsafe: it aliases the input) to the proto.Unmarshal decoder it
// replaced: everything the reference accepts is accepted, equal; what
// only the generated decoder accepts is explained by wiretest.Lenient and
// passes the checks; every accepted envelope re-encodes (MarshalVT) to
// bytes proto.Unmarshal reads back equal; decoding never modifies the
// input.
func FuzzVTEquivalence(f *testing.F) {
	for _, m := range []*cassnetv1.Envelope{
		testBatch(3),
		{Origin: "n1", Epoch: 1, Seq: 1, ContentType: "text/plain", Payload: []byte("x")},
		{Kind: cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD, Origin: "n1", Epoch: 1, Seq: 9},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x01, 0xff, 0x12, 0x01, 'a'})              // origin "\xff" then "a"
	f.Add([]byte{0x08, 0x02, 0x4a, 0x02, 0x4a, 0x00})             // a nested batch
	f.Add([]byte{0x20, 0x05, 0x22, 0x01, 0x00})                   // seq with the wrong wire type
	f.Add([]byte{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x08, 0x00}) // field number 2^31-1
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		got, err := decodeGossip(b, 1024, 64<<10)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeGossip modified its input")
		}
		want, refErr := refDecodeGossip(in, 1024, 64<<10)
		switch {
		case refErr == nil && err != nil:
			t.Fatalf("refused what proto.Unmarshal accepts: %v\n%v", err, want)
		case refErr == nil && !wiretest.Equal(got, want):
			t.Fatalf("decoded differently:\n%v\n%v", got, want)
		case refErr != nil && err == nil && !wiretest.Lenient(refErr, in, (&cassnetv1.Envelope{}).ProtoReflect().Descriptor()):
			t.Fatalf("accepted what proto.Unmarshal refuses (%v): %v", refErr, got)
		}
		if err != nil {
			return
		}
		// Unknown fields are written back as they came, by either encoder.
		wiretest.DiscardUnknown(got.ProtoReflect())
		checkRoundTrip(t, got, func() *cassnetv1.Envelope { return new(cassnetv1.Envelope) })
	})
}

// TestDecodeGossipDeepNesting: a gossip message nesting batches 100,000
// deep (the generated decoder has no recursion limit) is refused without
// decoding.
func TestDecodeGossipDeepNesting(t *testing.T) {
	const depth = 100_000
	inner := make([]int, depth+1) // inner[k]: the length of level k's content
	for k := 1; k <= depth; k++ {
		inner[k] = 1 + len(protowireLen(inner[k-1])) + inner[k-1]
	}
	var b []byte
	for k := depth; k >= 1; k-- {
		b = append(append(b, 0x4a), protowireLen(inner[k-1])...)
	}
	if _, err := decodeGossip(b, 1024, 1<<30); err == nil || !strings.Contains(err.Error(), "or a nested batch") {
		t.Fatalf("batches nested %d deep: %v (want refused before decoding)", depth, err)
	}
	// Field number 2^32+9: the generated decoder truncates it to 9.
	wide := protowireLen(((1<<32 + envelopeBatchField) << 3) | int(protowire.BytesType))
	if shapeOK(append(wide, 0x00), envelopeBatchField, maxBatchLen, true) {
		t.Fatal("shapeOK accepted field number 2^32+9")
	}
	many := bytes.Repeat([]byte{0x4a, 0x00}, maxBatchLen+1)
	if _, err := decodeGossip(many, 1024, 1<<30); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a batch of %d empty messages: %v (want refused before decoding)", maxBatchLen+1, err)
	}
}

func protowireLen(n int) []byte {
	var out []byte
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	return append(out, byte(n))
}

// TestDecodeGossipDetaches: the decoded payloads alias the gossip data but
// cannot be appended over it, and the strings are copies.
func TestDecodeGossipDetaches(t *testing.T) {
	b, _ := proto.Marshal(testBatch(3))
	env, err := decodeGossip(b, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	in := bytes.Clone(b)
	for _, e := range env.GetBatch() {
		if cap(e.Payload) != len(e.Payload) {
			t.Fatalf("payload capacity %d beyond its length %d", cap(e.Payload), len(e.Payload))
		}
		_ = append(e.Payload, 'X')
	}
	if !bytes.Equal(in, b) {
		t.Fatal("an append to a payload wrote over the gossip data")
	}
	for i := range b {
		b[i] = 0
	}
	if env.GetOrigin() != "n1" || env.GetBatch()[2].GetOrigin() != "n1" || env.GetBatch()[0].GetContentType() != "" {
		t.Fatalf("strings share the gossip data: %q %q", env.GetOrigin(), env.GetBatch()[2].GetOrigin())
	}
}
