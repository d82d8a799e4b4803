package streamclient

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"
)

// ackServer is a stand-in node for benchmarks: it acknowledges every run
// of publishes of a request with one reply, as a node does (v2), and
// nothing else.
func ackServer(tb testing.TB) *httptest.Server {
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10, Subprotocols: []string{protocolV2}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var seq uint64
		for {
			_, rd, err := ws.NextReader()
			if err != nil {
				return
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(rd); err != nil {
				return
			}
			var req cassnetv1.StreamRequest
			if err := proto.Unmarshal(buf.Bytes(), &req); err != nil {
				tb.Errorf("ack server: %v", err)
				return
			}
			cmds := req.GetCommands()
			if len(cmds) == 0 {
				continue
			}
			first := cmds[0].GetPublish().GetRef()
			resp := &cassnetv1.StreamResponse{Replies: []*cassnetv1.StreamReply{{Reply: &cassnetv1.StreamReply_Published{
				Published: &cassnetv1.StreamPublished{Ref: first, Id: "n1:00000000000000ab:1", Origin: "n1",
					Epoch: "00000000000000ab", Seq: seq + 1, Count: uint32(len(cmds))}}}}}
			seq += uint64(len(cmds))
			out, _ := proto.Marshal(resp)
			if err := ws.WriteMessage(websocket.BinaryMessage, out); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkPublish is the client's cost of a 1 KiB publish and its
// acknowledgement, 4,096 in flight, over a loopback WebSocket to a
// stand-in node (ackServer, whose cost is in the figure too).
func BenchmarkPublish(b *testing.B) {
	srv := ackServer(b)
	c, err := Dial(context.Background(), Config{URL: srv.URL, Tenant: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	inflight := make(chan *Pending, 4096)
	done := make(chan error, 1)
	go func() {
		var first error
		for pd := range inflight {
			if _, err := pd.Wait(context.Background()); err != nil && first == nil {
				first = err
			}
		}
		done <- first
	}()
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		inflight <- c.PublishAsync(context.Background(), "bench", "application/octet-stream", make([]byte, 1024))
	}
	close(inflight)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
