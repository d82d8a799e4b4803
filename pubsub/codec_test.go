package pubsub

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

func TestDecodeEnvelope(t *testing.T) {
	ok := &cassnetv1.Envelope{Origin: "n1", Epoch: 1, Seq: 1, ContentType: "text/plain", Payload: []byte("hi")}
	tests := []struct {
		name    string
		mutate  func(e *cassnetv1.Envelope)
		wantErr bool
	}{
		{"valid", func(*cassnetv1.Envelope) {}, false},
		{"no origin", func(e *cassnetv1.Envelope) { e.Origin = "" }, true},
		{"long origin", func(e *cassnetv1.Envelope) { e.Origin = strings.Repeat("o", maxOriginLen+1) }, true},
		{"zero epoch", func(e *cassnetv1.Envelope) { e.Epoch = 0 }, true},
		{"zero seq", func(e *cassnetv1.Envelope) { e.Seq = 0 }, true},
		{"payload over limit", func(e *cassnetv1.Envelope) { e.Payload = make([]byte, 101) }, true},
		{"control char in content type", func(e *cassnetv1.Envelope) { e.ContentType = "a\nb" }, true},
		{"head with payload", func(e *cassnetv1.Envelope) { e.Kind = cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD }, true},
		{"unknown kind", func(e *cassnetv1.Envelope) { e.Kind = 9 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := proto.Clone(ok).(*cassnetv1.Envelope)
			tt.mutate(e)
			b, err := proto.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeEnvelope(b, 100)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errDecode) {
				t.Fatalf("error does not wrap errDecode: %v", err)
			}
		})
	}
}

func TestFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	req := &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 1, FromSeq: 1, ToSeq: 5}
	if err := writeFrame(&buf, req); err != nil {
		t.Fatal(err)
	}
	b, err := readFrame(bufio.NewReader(bytes.NewReader(buf.Bytes())), maxRequestBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeBackfillRequest(b); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(buf.Bytes())), 3); !errors.Is(err, errDecode) {
		t.Fatalf("over-limit frame: %v", err)
	}
	// A length prefix promising 1 GiB must not allocate it.
	huge := []byte{0x80, 0x80, 0x80, 0x80, 0x04}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(huge)), maxRequestBytes); !errors.Is(err, errDecode) {
		t.Fatalf("huge prefix: %v", err)
	}
}

func TestDecodeBackfillRequest(t *testing.T) {
	tests := []struct {
		name string
		req  *cassnetv1.BackfillRequest
		ok   bool
	}{
		{"range", &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 1, FromSeq: 1, ToSeq: 1}, true},
		{"summary", &cassnetv1.BackfillRequest{Topic: "cass/a/b", Summary: true}, true},
		{"bad topic", &cassnetv1.BackfillRequest{Topic: "other/a/b", Summary: true}, false},
		{"inverted", &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 1, FromSeq: 5, ToSeq: 4}, false},
		{"zero from", &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 1, ToSeq: 4}, false},
		{"no epoch", &cassnetv1.BackfillRequest{Topic: "cass/a/b", FromSeq: 1, ToSeq: 4}, false},
		{"huge range", &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 1, FromSeq: 1, ToSeq: 1 << 40}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := proto.Marshal(tt.req)
			if _, err := decodeBackfillRequest(b); (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	b, _ := proto.Marshal(&cassnetv1.Envelope{Origin: "n1", Epoch: 1, Seq: 1, Payload: []byte("x")})
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x42, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b, 1024)
		if err != nil {
			return
		}
		if checkEnvelope(env, 1024) != nil || len(env.GetPayload()) > 1024 {
			t.Fatalf("accepted an envelope that fails the checks: %v", env)
		}
	})
}

// FuzzBackfillDecoders drives the frame reader and both backfill decoders
// with arbitrary bytes, as a hostile peer would.
func FuzzBackfillDecoders(f *testing.F) {
	var buf bytes.Buffer
	_ = writeFrame(&buf, &cassnetv1.BackfillRequest{Topic: "cass/a/b", Epoch: 3, FromSeq: 1, ToSeq: 9})
	f.Add(buf.Bytes())
	buf.Reset()
	_ = writeFrame(&buf, &cassnetv1.BackfillResponse{
		Messages: []*cassnetv1.Envelope{{Origin: "n", Epoch: 3, Seq: 1}},
		Streams:  []*cassnetv1.StreamSummary{{Origin: "n", Epoch: 3, FirstSeq: 1, LastSeq: 1}},
	})
	f.Add(buf.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		frame, err := readFrame(bufio.NewReader(bytes.NewReader(b)), maxResponseBytes(1024))
		if err != nil {
			return
		}
		if req, err := decodeBackfillRequest(frame); err == nil {
			if !req.GetSummary() && (req.GetFromSeq() == 0 || req.GetToSeq() < req.GetFromSeq()) {
				t.Fatalf("accepted a bad range: %v", req)
			}
		}
		if resp, err := decodeBackfillResponse(frame, 1024); err == nil {
			if len(resp.GetMessages()) > maxBackfillBatch {
				t.Fatal("accepted too many messages")
			}
			for _, e := range resp.GetMessages() {
				if checkEnvelope(e, 1024) != nil {
					t.Fatalf("accepted a bad envelope: %v", e)
				}
			}
		}
	})
}

func testBatch(n int) *cassnetv1.Envelope {
	b := &cassnetv1.Envelope{Kind: cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH, Origin: "n1", Epoch: 7, Seq: 3}
	for i := range n {
		b.Batch = append(b.Batch, &cassnetv1.Envelope{Origin: "n1", Epoch: 7, Seq: uint64(3 + i), Payload: []byte("p")})
	}
	return b
}

func TestDecodeGossipBatch(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(e *cassnetv1.Envelope)
		wantErr bool
	}{
		{"valid", func(*cassnetv1.Envelope) {}, false},
		{"empty", func(e *cassnetv1.Envelope) { e.Batch = nil }, true},
		{"too many", func(e *cassnetv1.Envelope) { *e = *testBatch(maxBatchLen + 1) }, true},
		{"payload on the batch", func(e *cassnetv1.Envelope) { e.Payload = []byte("x") }, true},
		{"zero epoch", func(e *cassnetv1.Envelope) { e.Epoch = 0 }, true},
		{"other origin inside", func(e *cassnetv1.Envelope) { e.Batch[1].Origin = "n2" }, true},
		{"other epoch inside", func(e *cassnetv1.Envelope) { e.Batch[1].Epoch = 8 }, true},
		{"seq not increasing", func(e *cassnetv1.Envelope) { e.Batch[2].Seq = e.Batch[1].Seq }, true},
		{"head inside", func(e *cassnetv1.Envelope) { e.Batch[0].Kind = cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD }, true},
		{"nested batch", func(e *cassnetv1.Envelope) {
			e.Batch[0].Batch = []*cassnetv1.Envelope{{Origin: "n1", Epoch: 7, Seq: 1}}
		}, true},
		{"oversized payload inside", func(e *cassnetv1.Envelope) { e.Batch[0].Payload = make([]byte, 101) }, true},
		{"batch field on a message", func(e *cassnetv1.Envelope) { e.Kind = cassnetv1.EnvelopeKind_ENVELOPE_KIND_MESSAGE }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testBatch(3)
			tt.mutate(e)
			b, err := proto.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeGossip(b, 100, 1<<20)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errDecode) {
				t.Fatalf("error does not wrap errDecode: %v", err)
			}
		})
	}
	b, _ := proto.Marshal(testBatch(3))
	if _, err := decodeGossip(b, 100, len(b)-1); err == nil {
		t.Fatal("accepted a gossip message over maxBytes")
	}
}

// FuzzDecodeGossip feeds the GossipSub message decoder (single envelopes
// and batches) arbitrary bytes, as a hostile member would.
func FuzzDecodeGossip(f *testing.F) {
	b, _ := proto.Marshal(testBatch(3))
	f.Add(b)
	b, _ = proto.Marshal(&cassnetv1.Envelope{Origin: "n1", Epoch: 1, Seq: 1, Payload: []byte("x")})
	f.Add(b)
	f.Add([]byte{0x08, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeGossip(b, 1024, 64<<10)
		if err != nil {
			return
		}
		if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
			if checkEnvelope(env, 1024) != nil {
				t.Fatalf("accepted an envelope that fails the checks: %v", env)
			}
			return
		}
		if len(env.GetBatch()) == 0 || len(env.GetBatch()) > maxBatchLen {
			t.Fatalf("accepted a batch of %d", len(env.GetBatch()))
		}
		for _, e := range env.GetBatch() {
			if checkEnvelope(e, 1024) != nil || e.GetOrigin() != env.GetOrigin() || e.GetEpoch() != env.GetEpoch() {
				t.Fatalf("accepted a bad message in a batch: %v", e)
			}
		}
	})
}
