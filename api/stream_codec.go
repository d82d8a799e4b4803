package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"google.golang.org/protobuf/proto"
)

// Limits of the streaming protocol (stream.go). Everything a client sends
// is checked against them before it is used.
const (
	// maxStreamCommands bounds the commands of one StreamRequest.
	maxStreamCommands = 4096
	// maxStreamSubs bounds the open subscriptions of one connection.
	maxStreamSubs = 256
	// defaultStreamWindow and maxStreamWindow bound how many events the
	// node sends a subscription ahead of the client's acknowledgements.
	defaultStreamWindow = 1024
	maxStreamWindow     = 65536
	// maxStreamTopicLen, maxStreamEventIDLen and maxStreamContentType
	// bound the strings of a command (the topic itself is checked by
	// Topics).
	maxStreamTopicLen    = 128
	maxStreamEventIDLen  = 8192
	maxStreamContentType = 255
	// streamRequestOverhead is what a StreamRequest may carry besides its
	// payloads.
	streamRequestOverhead = 1 << 20
)

// errStreamDecode marks a malformed StreamRequest.
var errStreamDecode = errors.New("malformed stream request")

// streamReadLimit bounds one WebSocket message from a client: a few
// messages at the payload limit, or many small ones.
func streamReadLimit(maxPayload int) int64 {
	return int64(max(4<<20, 2*maxPayload) + streamRequestOverhead)
}

// decodeStreamRequest parses and checks one client WebSocket message. A
// malformed one ends the connection. The request keeps b: its payloads
// share b's memory (vtprotobuf's unsafe decoder, no copy), so b must be a
// buffer of its own, never reused or modified (readStreamMessage); its
// strings are copies (detachStreamRequest). publish hands the payloads to
// the topics as Owned (no second copy): nothing modifies them, and each
// is capped at its length, so an append cannot write over a neighbour.
//
// The generated decoder does not validate UTF-8, which proto.Unmarshal
// did: checkStreamCommand checks every string a command keeps. It refuses
// a known field sent with another wire type, which proto.Unmarshal keeps
// as an unknown field: on its error the request is decoded again with
// proto.Unmarshal, so no request the previous decoder accepted is refused
// (api.FuzzStreamVTEquivalence).
func decodeStreamRequest(b []byte, maxPayload int) (*cassnetv1.StreamRequest, error) {
	if int64(len(b)) > streamReadLimit(maxPayload) {
		return nil, fmt.Errorf("%w: %d bytes", errStreamDecode, len(b))
	}
	req := new(cassnetv1.StreamRequest)
	if err := req.UnmarshalVTUnsafe(b); err != nil {
		req = new(cassnetv1.StreamRequest)
		if err := proto.Unmarshal(b, req); err != nil {
			return nil, fmt.Errorf("%w: %v", errStreamDecode, err)
		}
	}
	if len(req.GetCommands()) > maxStreamCommands {
		return nil, fmt.Errorf("%w: %d commands (limit %d)", errStreamDecode, len(req.GetCommands()), maxStreamCommands)
	}
	for i, c := range req.GetCommands() {
		if err := checkStreamCommand(c, maxPayload); err != nil {
			return nil, fmt.Errorf("%w: command %d: %v", errStreamDecode, i, err)
		}
	}
	detachStreamRequest(req)
	return req, nil
}

// detachStreamRequest gives a checked request's strings memory of their
// own, so that a subscription's topic or a message's content type kept
// in a history does not keep the whole WebSocket message alive, and caps
// each payload at its length, so that an append to one cannot write over
// its neighbours. Consecutive publishes usually share topic and content
// type: one copy each.
func detachStreamRequest(req *cassnetv1.StreamRequest) {
	var rawTopic, topic, rawType, ctype string
	for _, c := range req.GetCommands() {
		switch cmd := c.GetCommand().(type) {
		case *cassnetv1.StreamCommand_Publish:
			p := cmd.Publish
			if p.Topic != rawTopic {
				rawTopic, topic = p.Topic, strings.Clone(p.Topic)
			}
			if p.ContentType != rawType {
				rawType, ctype = p.ContentType, strings.Clone(p.ContentType)
			}
			p.Topic, p.ContentType, p.Payload = topic, ctype, slices.Clip(p.Payload)
		case *cassnetv1.StreamCommand_Subscribe:
			cmd.Subscribe.Topic = strings.Clone(cmd.Subscribe.Topic)
			cmd.Subscribe.LastEventId = strings.Clone(cmd.Subscribe.LastEventId)
		}
	}
}

// readStreamMessage reads one WebSocket message into a new buffer, which
// the decoded request keeps (decodeStreamRequest). *hint is the previous
// message's size: the buffer starts that large, so a run of similar
// messages costs one allocation each and no copies. It starts a quarter
// larger than that: bytes.Buffer doubles (a copy and an allocation twice
// the size) as soon as less than bytes.MinRead is free, which a message
// just past the previous one's size would otherwise cost, and writers that
// coalesce up to a byte bound send such runs.
func readStreamMessage(r io.Reader, hint *int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, max(*hint+*hint/4, 4<<10)+bytes.MinRead))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	*hint = buf.Len()
	return buf.Bytes(), nil
}

// appendStreamResponse encodes resp into buf, reusing its memory.
func appendStreamResponse(buf []byte, resp *cassnetv1.StreamResponse) ([]byte, error) {
	n := resp.SizeVT()
	buf = slices.Grow(buf[:0], n)[:n]
	if _, err := resp.MarshalToSizedBufferVT(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func checkStreamCommand(c *cassnetv1.StreamCommand, maxPayload int) error {
	checkTopic := func(t string) error {
		if t == "" || len(t) > maxStreamTopicLen || !utf8.ValidString(t) {
			return errors.New("bad topic")
		}
		return nil
	}
	switch c.GetCommand().(type) {
	case *cassnetv1.StreamCommand_Publish:
		p := c.GetPublish()
		switch {
		case p.GetRef() == 0:
			return errors.New("publish without a ref")
		case len(p.GetContentType()) > maxStreamContentType:
			return errors.New("content type too long")
		case !utf8.ValidString(p.GetContentType()):
			return errors.New("content type is not UTF-8")
		}
		// An oversized payload or a bad content type is refused for that
		// publish alone (streamConn.publish); the read limit bounds it.
		return checkTopic(p.GetTopic())
	case *cassnetv1.StreamCommand_Subscribe:
		sb := c.GetSubscribe()
		switch {
		case sb.GetSub() == 0:
			return errors.New("subscribe without a sub")
		case len(sb.GetLastEventId()) > maxStreamEventIDLen || !visibleASCII(sb.GetLastEventId()):
			return errors.New("bad last event id")
		case sb.GetWindow() > maxStreamWindow:
			return fmt.Errorf("window %d exceeds %d", sb.GetWindow(), maxStreamWindow)
		}
		return checkTopic(sb.GetTopic())
	case *cassnetv1.StreamCommand_Unsubscribe:
		if c.GetUnsubscribe().GetSub() == 0 {
			return errors.New("unsubscribe without a sub")
		}
	case *cassnetv1.StreamCommand_Ack:
		if c.GetAck().GetSub() == 0 {
			return errors.New("ack without a sub")
		}
	default:
		return errors.New("empty or unknown command")
	}
	return nil
}

// visibleASCII reports whether s is printable ASCII (media types, ids).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// streamEvents renders events of one subscription for the wire, with
// three allocations for the lot rather than three per event.
func streamEvents(sub uint64, evs []TopicEvent) []*cassnetv1.StreamReply {
	events := make([]cassnetv1.StreamEvent, len(evs))
	wraps := make([]cassnetv1.StreamReply_Event, len(evs))
	replies := make([]cassnetv1.StreamReply, len(evs))
	out := make([]*cassnetv1.StreamReply, len(evs))
	for i := range evs {
		ev := &evs[i]
		e := &events[i]
		e.Sub, e.Kind, e.Id, e.Origin, e.Epoch = sub, ev.Kind, ev.ID, ev.Origin, ev.Epoch
		e.Seq, e.ContentType, e.Payload = ev.Seq, ev.ContentType, ev.Payload
		e.From, e.To, e.Reason = ev.From, ev.To, ev.Reason
		if !ev.Published.IsZero() {
			e.PublishedUnixNano = ev.Published.UnixNano()
		}
		wraps[i].Event = e
		replies[i].Reply = &wraps[i]
		out[i] = &replies[i]
	}
	return out
}

// streamEventRuns renders events of one subscription for a
// cassnet.stream.v3 connection: each run of consecutive messages of one
// stream with one content type becomes one StreamEventRun (one reply and
// its lists, instead of three objects and the repeated strings per
// message); gaps and resets stay StreamEvents, in order with the runs.
func streamEventRuns(sub uint64, evs []TopicEvent) []*cassnetv1.StreamReply {
	var out []*cassnetv1.StreamReply
	for i := 0; i < len(evs); {
		first := &evs[i]
		if first.Kind != "message" {
			out = append(out, streamEvents(sub, evs[i:i+1])...)
			i++
			continue
		}
		j := i + 1
		for j < len(evs) && evs[j].Kind == "message" && evs[j].Seq == evs[j-1].Seq+1 &&
			evs[j].Epoch == first.Epoch && evs[j].Origin == first.Origin && evs[j].ContentType == first.ContentType {
			j++
		}
		n := j - i
		run := &cassnetv1.StreamEventRun{
			Sub: sub, Origin: first.Origin, Epoch: first.Epoch, ContentType: first.ContentType, FirstSeq: first.Seq,
			PublishedUnixNano: make([]int64, n), Ids: make([]string, n), Payloads: make([][]byte, n),
		}
		for k := range n {
			ev := &evs[i+k]
			if !ev.Published.IsZero() {
				run.PublishedUnixNano[k] = ev.Published.UnixNano()
			}
			run.Ids[k], run.Payloads[k] = ev.ID, ev.Payload
		}
		out = append(out, &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Events{Events: run}})
		i = j
	}
	return out
}

// repliesSize is the encoded size of rs (what the writer coalesces by).
func repliesSize(rs []*cassnetv1.StreamReply) int {
	n := 0
	for _, r := range rs {
		n += r.SizeVT()
	}
	return n
}

// streamPublished acknowledges count (≥ 1) consecutive publishes from
// ref, sequenced from m.
func streamPublished(ref uint64, m PublishedMessage, count uint32) *cassnetv1.StreamReply {
	p := &cassnetv1.StreamPublished{Ref: ref, Id: m.ID, Origin: m.Origin, Epoch: m.Epoch, Seq: m.Seq}
	if count > 1 {
		p.Count = count
	}
	return &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Published{Published: p}}
}

func streamError(ref, sub uint64, code, msg string) *cassnetv1.StreamReply {
	return &cassnetv1.StreamReply{Reply: &cassnetv1.StreamReply_Error{Error: &cassnetv1.StreamError{
		Ref: ref, Sub: sub, Code: code, Message: msg}}}
}
