package pubsub

import (
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// benchBatch is a gossip batch as the outbox sends it under load: 256
// messages of 1 KiB.
func benchBatch() *cassnetv1.Envelope {
	b := &cassnetv1.Envelope{Kind: cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH, Origin: "node-1a2b3c4d", Epoch: 0x1234567890abcdef, Seq: 1000}
	for i := range 256 {
		b.Batch = append(b.Batch, &cassnetv1.Envelope{
			Origin: b.Origin, Epoch: b.Epoch, Seq: 1000 + uint64(i),
			PublishUnixNano: 1_700_000_000_000_000_000 + int64(i), PrevUnixNano: 1_700_000_000_000_000_000 + int64(i) - 1,
			ContentType: "application/octet-stream", Payload: make([]byte, 1024),
		})
	}
	return b
}

// BenchmarkGossipCodec compares the reflection codec (proto) with the
// generated one (vt) on a 256-message batch of 1 KiB payloads: encoding
// (encodeEnvelope) and decoding with every check (decodeGossip).
func BenchmarkGossipCodec(b *testing.B) {
	env := benchBatch()
	data, _ := proto.Marshal(env)
	b.Run("encode/proto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/vt", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeEnvelope(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/proto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refDecodeGossip(data, 64<<10, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shape", func(b *testing.B) { // decode/vt's pre-scan alone
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if !shapeOK(data, envelopeBatchField, maxBatchLen, true) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("decode/vt", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeGossip(data, 64<<10, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
}
