package streamclient

import (
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

func TestStreamURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":      "ws://127.0.0.1:8080/v1/tenants/acme/stream",
		"https://node.example:8443/": "wss://node.example:8443/v1/tenants/acme/stream",
		"wss://node.example/prefix":  "wss://node.example/prefix/v1/tenants/acme/stream",
	} {
		if got, err := streamURL(in, "acme"); err != nil || got != want {
			t.Errorf("streamURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080"} {
		if _, err := streamURL(bad, "acme"); err == nil {
			t.Errorf("streamURL(%q) accepted", bad)
		}
	}
	if _, err := streamURL("http://x", "a/b"); err == nil {
		t.Error("tenant with a slash accepted")
	}
}

// FuzzDecodeResponse feeds the client's decoder of node WebSocket
// messages arbitrary bytes, as a hostile node would.
func FuzzDecodeResponse(f *testing.F) {
	b, _ := proto.Marshal(&cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{
		{Reply: &cassnetv1.StreamReply_Published{Published: &cassnetv1.StreamPublished{Ref: 1, Id: "n:0:1", Seq: 1}}},
		{Reply: &cassnetv1.StreamReply_Event{Event: &cassnetv1.StreamEvent{Sub: 1, Kind: "message", Id: "x", Payload: []byte("p")}}},
		{Reply: &cassnetv1.StreamReply_Ended{Ended: &cassnetv1.StreamEnded{Sub: 1, Reason: "bye"}}},
	}})
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeResponse(b)
		if err != nil {
			return
		}
		for _, r := range resp.GetReplies() {
			if r.GetReply() == nil {
				t.Fatal("accepted an empty reply")
			}
			if e := r.GetEvent(); e != nil && e.GetKind() != "message" && e.GetKind() != "gap" && e.GetKind() != "reset" {
				t.Fatalf("accepted event kind %q", e.GetKind())
			}
		}
	})
}
