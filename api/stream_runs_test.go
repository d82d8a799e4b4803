package api

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"
)

// expandReplies turns rendered replies back into the events they carry,
// as a client reads them: each StreamEvent one event, each
// StreamEventRun one per message.
func expandReplies(t *testing.T, sub uint64, rs []*cassnetv1.StreamReply) []TopicEvent {
	t.Helper()
	var out []TopicEvent
	at := func(n int64) time.Time {
		if n == 0 {
			return time.Time{}
		}
		return time.Unix(0, n)
	}
	for _, r := range rs {
		switch r := r.GetReply().(type) {
		case *cassnetv1.StreamReply_Event:
			e := r.Event
			if e.GetSub() != sub {
				t.Fatalf("event of sub %d, want %d", e.GetSub(), sub)
			}
			out = append(out, TopicEvent{Kind: e.GetKind(), ID: e.GetId(), Origin: e.GetOrigin(), Epoch: e.GetEpoch(),
				Seq: e.GetSeq(), Published: at(e.GetPublishedUnixNano()), ContentType: e.GetContentType(),
				Payload: e.GetPayload(), From: e.GetFrom(), To: e.GetTo(), Reason: e.GetReason()})
		case *cassnetv1.StreamReply_Events:
			run := r.Events
			if run.GetSub() != sub || len(run.GetIds()) == 0 || len(run.GetPayloads()) != len(run.GetIds()) ||
				len(run.GetPublishedUnixNano()) != len(run.GetIds()) {
				t.Fatalf("malformed run %v", run)
			}
			for i, id := range run.GetIds() {
				out = append(out, TopicEvent{Kind: "message", ID: id, Origin: run.GetOrigin(), Epoch: run.GetEpoch(),
					Seq: run.GetFirstSeq() + uint64(i), Published: at(run.GetPublishedUnixNano()[i]),
					ContentType: run.GetContentType(), Payload: run.GetPayloads()[i]})
			}
		default:
			t.Fatalf("reply %v, want an event", r)
		}
	}
	return out
}

// TestStreamEventRuns: a v3 rendering groups exactly the consecutive
// messages of one stream and content type, keeps gaps and resets in
// order between them, and carries the same events as the v2 rendering.
func TestStreamEventRuns(t *testing.T) {
	msg := func(origin, epoch string, seq uint64, ct string, nanos int64) TopicEvent {
		ev := TopicEvent{Kind: "message", ID: fmt.Sprintf("%s:%s:%d", origin, epoch, seq), Origin: origin, Epoch: epoch,
			Seq: seq, ContentType: ct, Payload: []byte(fmt.Sprint("p", seq))}
		if nanos != 0 {
			ev.Published = time.Unix(0, nanos)
		}
		return ev
	}
	evs := []TopicEvent{
		msg("a", "e1", 1, "text/plain", 100), msg("a", "e1", 2, "text/plain", 0), msg("a", "e1", 3, "text/plain", 300),
		{Kind: "gap", ID: "a:e1:5", Origin: "a", Epoch: "e1", From: 4, To: 5},
		msg("a", "e1", 6, "text/plain", 600), msg("a", "e1", 7, "text/plain", 700),
		msg("a", "e1", 9, "text/plain", 900), // not consecutive: a run of its own
		{Kind: "reset", ID: "a:e2:0", Origin: "a", Epoch: "e2", Reason: "history reset"},
		msg("a", "e2", 1, "text/plain", 1), // another epoch
		msg("a", "e2", 2, "application/json", 2),
		msg("b", "e2", 3, "application/json", 3), // another origin
	}
	runs := streamEventRuns(7, evs)
	var shape []string
	for _, r := range runs {
		if run := r.GetEvents(); run != nil {
			shape = append(shape, fmt.Sprintf("run %s:%s:%d+%d", run.GetOrigin(), run.GetEpoch(), run.GetFirstSeq(), len(run.GetIds())))
		} else {
			shape = append(shape, r.GetEvent().GetKind())
		}
	}
	want := "[run a:e1:1+3 gap run a:e1:6+2 run a:e1:9+1 reset run a:e2:1+1 run a:e2:2+1 run b:e2:3+1]"
	if fmt.Sprint(shape) != want {
		t.Fatalf("runs %v, want %s", shape, want)
	}
	if got := expandReplies(t, 7, runs); !reflect.DeepEqual(got, evs) {
		t.Fatalf("runs carry\n%+v\nwant\n%+v", got, evs)
	}
	if got := expandReplies(t, 7, streamEvents(7, evs)); !reflect.DeepEqual(got, evs) {
		t.Fatalf("events carry\n%+v\nwant\n%+v", got, evs)
	}
	if rs := streamEventRuns(7, nil); len(rs) != 0 {
		t.Fatalf("no events rendered as %v", rs)
	}
}

// TestStreamEventRunsNegotiated: a client that offers cassnet.stream.v3
// gets its messages as runs; one that offers v2 (or nothing) gets one
// StreamEvent per message, the same events.
func TestStreamEventRunsNegotiated(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	srv := httptest.NewServer(h.h)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/tenants/acme/stream"
	var first []TopicEvent
	for _, tt := range []struct {
		name      string
		protocols []string
		chosen    string
		runs      bool
	}{
		{"v3", []string{streamProtocolV3, streamProtocolV2}, streamProtocolV3, true},
		{"v3 last", []string{streamProtocolV2, streamProtocolV3}, streamProtocolV3, true}, // the node's preference
		{"v2", []string{streamProtocolV2}, streamProtocolV2, false},
		{"v1", nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := dialRawStream(t, url, h.token, tt.protocols)
			if ws.Subprotocol() != tt.chosen {
				t.Fatalf("subprotocol %q, want %q", ws.Subprotocol(), tt.chosen)
			}
			var cmds []*cassnetv1.StreamCommand
			if first == nil {
				for i := range 5 {
					cmds = append(cmds, &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Publish{Publish: &cassnetv1.StreamPublish{
						Ref: uint64(i + 1), Topic: "chat", ContentType: "text/plain", Payload: []byte(fmt.Sprint("m", i))}}})
				}
			}
			cmds = append(cmds, &cassnetv1.StreamCommand{Command: &cassnetv1.StreamCommand_Subscribe{Subscribe: &cassnetv1.StreamSubscribe{
				Sub: 1, Topic: "chat", Window: 100}}})
			if err := ws.WriteMessage(websocket.BinaryMessage, mustMarshal(t, &cassnetv1.StreamRequest{Commands: cmds})); err != nil {
				t.Fatal(err)
			}
			var events []*cassnetv1.StreamReply
			runs, singles := 0, 0
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for ended := false; !ended; {
				_, b, err := ws.ReadMessage()
				if err != nil {
					t.Fatalf("after %d events: %v", len(events), err)
				}
				var resp cassnetv1.StreamResponse
				if err := proto.Unmarshal(b, &resp); err != nil {
					t.Fatal(err)
				}
				for _, r := range resp.GetReplies() {
					switch {
					case r.GetEvents() != nil:
						runs++
						events = append(events, r)
					case r.GetEvent() != nil:
						singles++
						events = append(events, r)
					case r.GetEnded() != nil: // the fake stream ends after its replay
						ended = true
					case r.GetError() != nil:
						t.Fatalf("error %v", r.GetError())
					}
				}
			}
			if tt.runs != (runs > 0) || tt.runs == (singles > 0) {
				t.Fatalf("%d runs and %d single events", runs, singles)
			}
			got := expandReplies(t, 1, events)
			if len(got) != 5 || string(got[4].Payload) != "m4" || got[4].Seq != 5 {
				t.Fatalf("events %+v", got)
			}
			if first == nil {
				first = got
			} else if !reflect.DeepEqual(got, first) {
				t.Fatalf("events\n%+v\nwant, as v3 gave them,\n%+v", got, first)
			}
		})
	}
}
