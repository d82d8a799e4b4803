package streamclient

import (
	"fmt"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkDecodeResponse compares proto.Unmarshal with the generated
// unsafe decoder on a StreamResponse of 64 events of 1 KiB, with every
// check (decodeResponse).
func BenchmarkDecodeResponse(b *testing.B) {
	var resp cassnetv1.StreamResponse
	for i := range 64 {
		resp.Replies = append(resp.Replies, &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{
			Sub: 1, Kind: "message", Id: fmt.Sprintf("node-1a2b3c4d:1234567890abcdef:%d", 1000+i), Origin: "node-1a2b3c4d",
			Epoch: "1234567890abcdef", Seq: uint64(1000 + i), PublishedUnixNano: 1_700_000_000_000_000_000,
			ContentType: "application/octet-stream", Payload: make([]byte, 1024)}}})
	}
	data, _ := proto.Marshal(&resp)
	b.Run("proto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refDecodeResponseOnly(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("vt", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeResponse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// refDecodeResponseOnly is the previous decodeResponse's cost: proto.Unmarshal
// and the same checks.
func refDecodeResponseOnly(b []byte) (*cassnetv1.StreamResponse, error) {
	resp := new(cassnetv1.StreamResponse)
	if err := proto.Unmarshal(b, resp); err != nil {
		return nil, err
	}
	for _, r := range resp.GetReplies() {
		e := r.GetEvent()
		for _, s := range []string{e.GetId(), e.GetOrigin(), e.GetEpoch(), e.GetContentType(), e.GetReason()} {
			if len(s) > maxStringField {
				return nil, ErrProtocol
			}
		}
	}
	return resp, nil
}

// BenchmarkReceiveRun is the client's cost per WebSocket message of 64
// messages of 1 KiB of one stream, decoded, checked and turned into
// Events: as 64 StreamEvents (v2) and as one StreamEventRun (v3).
func BenchmarkReceiveRun(b *testing.B) {
	var v2 cassnetv1.StreamResponse
	run := &cassnetv1.StreamEventRun{Sub: 1, Origin: "node-1a2b3c4d", Epoch: "1234567890abcdef",
		ContentType: "application/octet-stream", FirstSeq: 1000}
	for i := range 64 {
		id := fmt.Sprintf("node-1a2b3c4d:1234567890abcdef:%d", 1000+i)
		v2.Replies = append(v2.Replies, &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{
			Sub: 1, Kind: "message", Id: id, Origin: run.Origin, Epoch: run.Epoch, Seq: uint64(1000 + i),
			PublishedUnixNano: 1_700_000_000_000_000_000, ContentType: run.ContentType, Payload: make([]byte, 1024)}}})
		run.Ids = append(run.Ids, id)
		run.PublishedUnixNano = append(run.PublishedUnixNano, 1_700_000_000_000_000_000)
		run.Payloads = append(run.Payloads, make([]byte, 1024))
	}
	v3 := &cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{{Reply: &cassnetv1.StreamReply_Events{Events: run}}}}
	for _, tt := range []struct {
		name string
		resp *cassnetv1.StreamResponse
	}{{"v2", &v2}, {"v3", v3}} {
		data, _ := proto.Marshal(tt.resp)
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var evs []Event
			for b.Loop() {
				resp, err := decodeResponse(data)
				if err != nil {
					b.Fatal(err)
				}
				evs = evs[:0]
				for _, r := range resp.GetReplies() {
					if e := r.GetEvent(); e != nil {
						evs = append(evs, eventOf(e))
					} else {
						evs = appendEventRun(evs, r.GetEvents())
					}
				}
				if len(evs) != 64 {
					b.Fatal(len(evs))
				}
			}
		})
	}
}
