package streamclient

import (
	"errors"
	"math"
	"strings"
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
		{Reply: &cassnetv1.StreamReply_Events{Events: &cassnetv1.StreamEventRun{Sub: 1, Origin: "n", Epoch: "0", FirstSeq: 2,
			PublishedUnixNano: []int64{1, 0}, Ids: []string{"n:0:2", "n:0:3"}, Payloads: [][]byte{[]byte("a"), nil}}}},
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
			if run := r.GetEvents(); run != nil {
				n := len(run.GetIds())
				if n == 0 || len(run.GetPayloads()) != n || len(run.GetPublishedUnixNano()) != n ||
					run.GetFirstSeq()+uint64(n-1) < run.GetFirstSeq() {
					t.Fatalf("accepted a malformed run %v", run)
				}
			}
		}
	})
}

// TestDecodeResponseRefusesMalformedRuns: a run whose lists differ in
// length, that is empty, or whose sequence numbers wrap is a protocol
// error, not a panic or a guess.
func TestDecodeResponseRefusesMalformedRuns(t *testing.T) {
	ok := func() *cassnetv1.StreamEventRun {
		return &cassnetv1.StreamEventRun{Sub: 1, Origin: "n", Epoch: "0", FirstSeq: 1,
			PublishedUnixNano: []int64{1, 2}, Ids: []string{"n:0:1", "n:0:2"}, Payloads: [][]byte{[]byte("a"), []byte("b")}}
	}
	for name, mutate := range map[string]func(*cassnetv1.StreamEventRun){
		"valid":          func(*cassnetv1.StreamEventRun) {},
		"short payloads": func(r *cassnetv1.StreamEventRun) { r.Payloads = r.Payloads[:1] },
		"long times":     func(r *cassnetv1.StreamEventRun) { r.PublishedUnixNano = append(r.PublishedUnixNano, 3) },
		"empty":          func(r *cassnetv1.StreamEventRun) { r.Ids, r.Payloads, r.PublishedUnixNano = nil, nil, nil },
		"wraps":          func(r *cassnetv1.StreamEventRun) { r.FirstSeq = math.MaxUint64 },
		"last seq max":   func(r *cassnetv1.StreamEventRun) { r.FirstSeq = math.MaxUint64 - 1 },
		"id not UTF-8":   func(r *cassnetv1.StreamEventRun) { r.Ids[1] = "\xff" },
		"long id":        func(r *cassnetv1.StreamEventRun) { r.Ids[0] = strings.Repeat("x", maxStringField+1) },
	} {
		run := ok()
		mutate(run)
		// MarshalVT, unlike proto.Marshal, writes invalid UTF-8 as a
		// hostile node would.
		b, err := (&cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{{Reply: &cassnetv1.StreamReply_Events{Events: run}}}}).MarshalVT()
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodeResponse(b)
		if want := name == "valid" || name == "last seq max"; (err == nil) != want {
			t.Errorf("%s: %v", name, err)
		} else if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}
