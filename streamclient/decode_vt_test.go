package streamclient

import (
	"bytes"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/cassandranet/cassnet/internal/wiretest"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// refDecodeResponse is decodeResponse as it was with proto.Unmarshal: the
// reference FuzzResponseVTEquivalence holds the generated decoder to.
func refDecodeResponse(b []byte) (*cassnetv1.StreamResponse, error) {
	resp := new(cassnetv1.StreamResponse)
	if err := proto.Unmarshal(b, resp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	// The checks are decodeResponse's own: run them on a re-encoding,
	// which the generated decoder reads exactly (valid, no unknown fields).
	b, err := proto.Marshal(resp)
	if err != nil {
		return nil, err
	}
	if _, err := decodeResponse(b); err != nil {
		return nil, err
	}
	return resp, nil
}

// FuzzResponseVTEquivalence holds decodeResponse (vtprotobuf's generated
// decoder, unsafe: it aliases the input) to proto.Unmarshal: every
// response the reference accepts is accepted, equal; one only the
// generated decoder accepts is explained by wiretest.Lenient; every accepted
// response re-encodes (MarshalVT) to bytes proto.Unmarshal reads back
// equal; decoding never modifies the input. It also holds the client's
// request encoder (the outgoing queue's segments, queue.go) to proto.Marshal.
func FuzzResponseVTEquivalence(f *testing.F) {
	b, _ := proto.Marshal(&cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{
		{Reply: &cassnetv1.StreamReply_Published{Published: &cassnetv1.StreamPublished{Ref: 1, Id: "n:0:1", Origin: "n", Epoch: "0", Seq: 1}}},
		{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: 1, Kind: "message", Id: "x", ContentType: "text/plain", Payload: []byte("p")}}},
		{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: 1, Kind: "gap", From: 2, To: 3}}},
		{Reply: &cassnetv1.StreamReply_Error{Error: &cassnetv1.StreamError{Ref: 2, Code: "bad_request", Message: "no"}}},
		{Reply: &cassnetv1.StreamReply_Subscribed{Subscribed: &cassnetv1.StreamSubscribed{Sub: 1}}},
		{Reply: &cassnetv1.StreamReply_Events{Events: &cassnetv1.StreamEventRun{Sub: 1, Origin: "n", Epoch: "0", ContentType: "t/p",
			FirstSeq: 4, PublishedUnixNano: []int64{9, 10}, Ids: []string{"n:0:4", "n:0:5"}, Payloads: [][]byte{[]byte("q"), []byte("r")}}}},
		{Reply: &cassnetv1.StreamReply_Ended{Ended: &cassnetv1.StreamEnded{Sub: 1, Reason: "bye"}}},
	}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte{0x0a, 0x05, 0x2a, 0x03, 0x12, 0x01, 0xff}) // an ended reason "\xff"
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		got, err := decodeResponse(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeResponse modified its input")
		}
		want, refErr := refDecodeResponse(in)
		switch {
		case refErr == nil && err != nil:
			t.Fatalf("refused what proto.Unmarshal accepts: %v\n%v", err, want)
		case refErr == nil && !wiretest.Equal(got, want):
			t.Fatalf("decoded differently:\n%v\n%v", got, want)
		case refErr != nil && err == nil && !wiretest.Lenient(refErr, in, (&cassnetv1.StreamResponse{}).ProtoReflect().Descriptor()):
			t.Fatalf("accepted what proto.Unmarshal refuses (%v): %v", refErr, got)
		}
		if err != nil {
			return
		}
		// Unknown fields are written back as they came, by either encoder.
		wiretest.DiscardUnknown(got.ProtoReflect())
		out, err := got.MarshalVT()
		back := new(cassnetv1.StreamResponse)
		if err != nil || proto.Unmarshal(out, back) != nil || !proto.Equal(got, back) {
			t.Fatalf("MarshalVT's bytes read back differently (%v):\n%v\n%v", err, got, back)
		}
		// The client's encoder (the queue's segments, end to end), on
		// commands made of the decoded strings.
		var req cassnetv1.StreamRequest
		q := newOutQueue()
		for _, r := range got.GetReplies() {
			if e := r.GetEvent(); e != nil && utf8.ValidString(e.GetId()) {
				ack := &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Ack{Ack: &cassnetv1.StreamAck{Sub: e.GetSub(), Count: uint32(e.GetTo())}}}
				req.Commands = append(req.Commands,
					&cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{
						Ref: e.GetSeq(), Topic: e.GetId(), ContentType: e.GetContentType(), Payload: e.GetPayload()}}}, ack)
				q.appendPublish(e.GetSeq(), e.GetId(), e.GetContentType(), e.GetPayload())
				q.appendCmd(ack)
			}
		}
		enc := bytes.Join(q.take(nil), nil)
		if want, _ := proto.Marshal(&req); !bytes.Equal(enc, want) {
			t.Fatalf("the queue's encoding and proto.Marshal differ:\n%x\n%x", enc, want)
		}
	})
}

// TestDecodeResponseDetaches: payloads alias the message but cannot be
// appended over it; strings are copies.
func TestDecodeResponseDetaches(t *testing.T) {
	b, _ := proto.Marshal(&cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{
		{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: 1, Kind: "message", Id: "n:1:1", Origin: "n", ContentType: "t/p", Payload: []byte("ab")}}},
		{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: 1, Kind: "message", Id: "n:1:2", Origin: "n", ContentType: "t/p", Payload: []byte("cd")}}},
		{Reply: &cassnetv1.StreamReply_Events{Events: &cassnetv1.StreamEventRun{Sub: 1, Origin: "n", Epoch: "1", ContentType: "t/p", FirstSeq: 3,
			PublishedUnixNano: []int64{0, 0}, Ids: []string{"n:1:3", "n:1:4"}, Payloads: [][]byte{[]byte("ef"), []byte("gh")}}}},
	}})
	resp, err := decodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	in := bytes.Clone(b)
	_ = append(resp.Replies[0].GetEvent().Payload, 'X', 'X', 'X', 'X')
	if !bytes.Equal(in, b) {
		t.Fatal("an append to a payload wrote over the next reply")
	}
	_ = append(resp.Replies[2].GetEvents().Payloads[0], 'X', 'X', 'X', 'X')
	if !bytes.Equal(in, b) {
		t.Fatal("an append to a run's payload wrote over the next one")
	}
	clear(b)
	e := resp.Replies[1].GetEvent()
	if e.GetId() != "n:1:2" || e.GetOrigin() != "n" || e.GetContentType() != "t/p" || e.GetKind() != "message" {
		t.Fatalf("strings share the message buffer: %v", e)
	}
	run := resp.Replies[2].GetEvents()
	if fmt.Sprint(run.GetIds()) != "[n:1:3 n:1:4]" || run.GetOrigin() != "n" || run.GetContentType() != "t/p" || run.GetEpoch() != "1" {
		t.Fatalf("a run's strings share the message buffer: %v", run)
	}
	if string(run.GetPayloads()[1]) != "\x00\x00" {
		t.Fatalf("a run's payload %q does not alias the message", run.GetPayloads()[1])
	}
}
