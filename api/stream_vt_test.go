package api

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cassandranet/cassnet/internal/wiretest"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// refDecodeStreamRequest is decodeStreamRequest as it was with
// proto.Unmarshal: the reference FuzzStreamVTEquivalence holds the
// generated decoder to.
func refDecodeStreamRequest(b []byte, maxPayload int) (*cassnetv1.StreamRequest, error) {
	if int64(len(b)) > streamReadLimit(maxPayload) {
		return nil, errStreamDecode
	}
	req := new(cassnetv1.StreamRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: %v", errStreamDecode, err)
	}
	if len(req.GetCommands()) > maxStreamCommands {
		return nil, errStreamDecode
	}
	for _, c := range req.GetCommands() {
		if err := checkStreamCommand(c, maxPayload); err != nil {
			return nil, fmt.Errorf("%w: %v", errStreamDecode, err)
		}
	}
	return req, nil
}

// FuzzStreamVTEquivalence holds decodeStreamRequest (vtprotobuf's
// generated decoder, unsafe: it aliases the input) to the proto.Unmarshal
// decoder it replaced: every request the reference accepts is accepted,
// equal; a request only the generated decoder accepts is explained by
// wiretest.Lenient; every accepted request re-encodes (MarshalVT) to bytes
// proto.Unmarshal reads back equal; decoding never modifies the input.
func FuzzStreamVTEquivalence(f *testing.F) {
	b, _ := proto.Marshal(&cassnetv1.StreamRequest{Commands: []*cassnetv1.StreamCommand{
		{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{Ref: 1, Topic: "chat", ContentType: "text/plain", Payload: []byte("x")}}},
		{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{Ref: 2, Topic: "chat", ContentType: "text/plain", Payload: []byte("y")}}},
		{Command: &cassnetv1.StreamCommand_Subscribe{Subscribe: &cassnetv1.StreamSubscribe{Sub: 1, Topic: "chat", LastEventId: "n:1:2", Window: 8}}},
		{Command: &cassnetv1.StreamCommand_Ack{Ack: &cassnetv1.StreamAck{Sub: 1, Count: 4}}},
		{Command: &cassnetv1.StreamCommand_Unsubscribe{Unsubscribe: &cassnetv1.StreamUnsubscribe{Sub: 1}}},
	}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	// A publish whose topic is "\xff", replaced by an ack.
	f.Add([]byte{0x0a, 0x0b, 0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, 0xff, 0x22, 0x02, 0x08, 0x01})
	// An ack whose sub has the wrong wire type.
	f.Add([]byte{0x0a, 0x05, 0x22, 0x03, 0x0a, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		got, err := decodeStreamRequest(b, 1024)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeStreamRequest modified its input")
		}
		want, refErr := refDecodeStreamRequest(in, 1024)
		switch {
		case refErr == nil && err != nil:
			t.Fatalf("refused what proto.Unmarshal accepts: %v\n%v", err, want)
		case refErr == nil && !wiretest.Equal(got, want):
			t.Fatalf("decoded differently:\n%v\n%v", got, want)
		case refErr != nil && err == nil && !wiretest.Lenient(refErr, in, (&cassnetv1.StreamRequest{}).ProtoReflect().Descriptor()):
			t.Fatalf("accepted what proto.Unmarshal refuses (%v): %v", refErr, got)
		}
		if err != nil {
			if !errors.Is(err, errStreamDecode) {
				t.Fatalf("error does not wrap errStreamDecode: %v", err)
			}
			return
		}
		// Unknown fields are written back as they came, by either encoder.
		wiretest.DiscardUnknown(got.ProtoReflect())
		out, err := got.MarshalVT()
		if err != nil || len(out) != proto.Size(got) {
			t.Fatalf("MarshalVT: %d bytes, %v; proto.Size %d", len(out), err, proto.Size(got))
		}
		back := new(cassnetv1.StreamRequest)
		if err := proto.Unmarshal(out, back); err != nil || !proto.Equal(got, back) {
			t.Fatalf("MarshalVT's bytes read back differently (%v):\n%v\n%v", err, got, back)
		}
	})
}

// FuzzStreamResponseVT holds the node's encoder (appendStreamResponse, into
// a reused buffer) to proto.Unmarshal: replies built from arbitrary
// fields encode to bytes it reads back equal.
func FuzzStreamResponseVT(f *testing.F) {
	f.Add(uint64(1), "message", "n1:0000000000000001:5", "n1", []byte("payload"), int64(7), uint8(0))
	f.Add(uint64(0), "", "", "", []byte(nil), int64(0), uint8(3))
	var buf []byte
	f.Fuzz(func(t *testing.T, n uint64, kind, id, origin string, payload []byte, at int64, which uint8) {
		if !utf8Strings(kind, id, origin) {
			return // proto.Marshal refuses them; the node never sends them
		}
		var resp cassnetv1.StreamResponse
		for i := range int(which%8) + 1 {
			var r *cassnetv1.StreamReply
			switch (int(which) + i) % 6 {
			case 0:
				r = &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{
					Sub: n, Kind: kind, Id: id, Origin: origin, Epoch: id, Seq: n + 1, PublishedUnixNano: at,
					ContentType: kind, Payload: payload, From: n, To: n * 3, Reason: origin}}}
			case 1:
				r = streamPublished(n, PublishedMessage{ID: id, Origin: origin, Epoch: kind, Seq: n}, uint32(n%5))
			case 2:
				r = streamError(n, n/2, kind, id)
			case 4:
				r = streamEventRuns(n, []TopicEvent{
					{Kind: "message", ID: id, Origin: origin, Epoch: kind, Seq: n, ContentType: kind, Payload: payload},
					{Kind: "message", ID: origin, Origin: origin, Epoch: kind, Seq: n + 1, ContentType: kind, Published: time.Unix(0, at)},
				})[0]
			case 3:
				r = &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Subscribed{Subscribed: &cassnetv1.StreamSubscribed{Sub: n}}}
			default:
				r = &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Ended{Ended: &cassnetv1.StreamEnded{Sub: n, Reason: id}}}
			}
			resp.Replies = append(resp.Replies, r)
		}
		var err error
		if buf, err = appendStreamResponse(buf, &resp); err != nil {
			t.Fatal(err)
		}
		back := new(cassnetv1.StreamResponse)
		if err := proto.Unmarshal(buf, back); err != nil || !proto.Equal(&resp, back) {
			t.Fatalf("appendStreamResponse's bytes read back differently (%v):\n%v\n%v", err, &resp, back)
		}
		if want, _ := proto.Marshal(&resp); !bytes.Equal(want, buf) {
			t.Fatalf("appendStreamResponse and proto.Marshal differ:\n%x\n%x", buf, want)
		}
	})
}

func utf8Strings(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
