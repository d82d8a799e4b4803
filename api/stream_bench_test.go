package api

import (
	"fmt"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkStreamCodec compares the reflection codec (proto) with the
// generated one (vt) on the node's two hot messages: a StreamResponse of
// 64 events of 1 KiB (writeLoop, into a reused buffer) and a
// StreamRequest of 128 publishes of 1 KiB (readLoop, with every check).
func BenchmarkStreamCodec(b *testing.B) {
	evs := benchEvents(64)
	resp := cassnetv1.StreamResponse{Replies: streamEvents(1, evs)}
	var req cassnetv1.StreamRequest
	for i := range 128 {
		req.Commands = append(req.Commands, &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{
			Publish: &cassnetv1.StreamPublish{Ref: uint64(i + 1), Topic: "bench", ContentType: "application/octet-stream", Payload: make([]byte, 1024)}}})
	}
	reqData, _ := proto.Marshal(&req)
	var buf []byte
	b.Run("response-encode/proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], &resp); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("response-encode/vt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = appendStreamResponse(buf, &resp); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("request-decode/proto", func(b *testing.B) {
		b.SetBytes(int64(len(reqData)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refDecodeStreamRequest(reqData, 64<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("request-decode/vt", func(b *testing.B) {
		b.SetBytes(int64(len(reqData)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeStreamRequest(reqData, 64<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStreamRender is the node's cost per pumped batch of 64
// messages of 1 KiB of one stream: rendering (streamEvents for v2,
// streamEventRuns for v3) and encoding into a reused buffer.
func BenchmarkStreamRender(b *testing.B) {
	evs := benchEvents(64)
	for _, tt := range []struct {
		name   string
		render func(uint64, []TopicEvent) []*cassnetv1.StreamReply
	}{{"v2", streamEvents}, {"v3", streamEventRuns}} {
		b.Run(tt.name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = appendStreamResponse(buf, &cassnetv1.StreamResponse{Replies: tt.render(1, evs)}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// benchEvents is n consecutive messages of 1 KiB of one stream.
func benchEvents(n int) []TopicEvent {
	var evs []TopicEvent
	for i := range n {
		evs = append(evs, TopicEvent{
			Kind: "message", ID: fmt.Sprintf("node-1a2b3c4d:1234567890abcdef:%d", 1000+i), Origin: "node-1a2b3c4d",
			Epoch: "1234567890abcdef", Seq: uint64(1000 + i), Published: time.Unix(1_700_000_000, int64(i)),
			ContentType: "application/octet-stream", Payload: make([]byte, 1024),
		})
	}
	return evs
}
