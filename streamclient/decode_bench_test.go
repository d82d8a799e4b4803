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
