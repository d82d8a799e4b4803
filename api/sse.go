package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// sseHeartbeat is how often an idle event stream gets a comment line, so
// that proxies and clients see the connection is alive.
const sseHeartbeat = 15 * time.Second

// sseMessage is the data of an "event: message".
type sseMessage struct {
	MsgID       string    `json:"msg_id"`
	Origin      string    `json:"origin"`
	Epoch       string    `json:"epoch"`
	Seq         uint64    `json:"seq"`
	PublishedAt time.Time `json:"published_at"`
	ContentType string    `json:"content_type"`
	// Payload is set when the payload is valid UTF-8, PayloadBase64
	// otherwise.
	Payload       *string `json:"payload,omitempty"`
	PayloadBase64 *string `json:"payload_base64,omitempty"`
}

// sseGap is the data of an "event: gap".
type sseGap struct {
	Origin string `json:"origin"`
	Epoch  string `json:"epoch"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
}

// sseReason is the data of "event: reset" and "event: disconnect".
type sseReason struct {
	Reason string `json:"reason"`
}

// handleTopicEvents streams a topic as Server-Sent Events. Each event has
// an id: to resume after it, on any node, send it back as Last-Event-ID
// (or ?last_event_id=, for clients that cannot set headers). The stream
// ends cleanly when the client goes away; when the node ends it (slow
// subscriber, shutdown) it first sends "event: disconnect" with a reason.
func (s *Server) handleTopicEvents(w http.ResponseWriter, r *http.Request, _ Principal) {
	topics, ok := s.topicsOr503(w)
	if !ok {
		return
	}
	tenant, topic := r.PathValue("tenant"), r.PathValue("topic")
	if !s.tenantExists(w, r, tenant) {
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	stream, err := topics.Subscribe(r.Context(), tenant, topic, last)
	if err != nil {
		s.topicError(w, r, err)
		return
	}
	defer stream.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 32<<10)
	_, _ = bw.WriteString(": subscribed\n\n")
	if bw.Flush() != nil || rc.Flush() != nil {
		return
	}
	s.pumpEvents(r.Context(), bw, rc, stream)
}

// pumpEvents writes events until the client leaves or the stream ends.
// Writes are flushed whenever the stream has nothing ready, so a burst
// costs one flush, not one per event.
func (s *Server) pumpEvents(ctx context.Context, bw *bufio.Writer, rc *http.ResponseController, stream TopicStream) {
	for ctx.Err() == nil {
		hb, cancel := context.WithTimeout(ctx, sseHeartbeat)
		err := s.writeUntilIdle(hb, bw, rc, stream)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // the client went away
		case errors.Is(err, context.DeadlineExceeded):
			_, _ = bw.WriteString(": heartbeat\n\n")
		case err != nil: // the node ended the stream; the client may resume
			writeSSE(bw, "", "disconnect", sseReason{Reason: err.Error()})
			_ = bw.Flush()
			_ = rc.Flush()
			return
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
	}
}

// writeUntilIdle writes events until Next fails (ctx's deadline is the
// heartbeat). It flushes when the next event is not immediately ready.
func (s *Server) writeUntilIdle(ctx context.Context, bw *bufio.Writer, rc *http.ResponseController, stream TopicStream) error {
	for {
		ev, err := nextOrFlush(ctx, bw, rc, stream)
		if err != nil {
			return err
		}
		switch ev.Kind {
		case "message":
			m := sseMessage{MsgID: ev.Origin + ":" + ev.Epoch + ":" + strconv.FormatUint(ev.Seq, 10), Origin: ev.Origin, Epoch: ev.Epoch,
				Seq: ev.Seq, PublishedAt: ev.Published.UTC(), ContentType: ev.ContentType}
			if utf8.Valid(ev.Payload) {
				p := string(ev.Payload)
				m.Payload = &p
			} else {
				p := base64.StdEncoding.EncodeToString(ev.Payload)
				m.PayloadBase64 = &p
			}
			writeSSE(bw, ev.ID, "message", m)
		case "gap":
			writeSSE(bw, ev.ID, "gap", sseGap{Origin: ev.Origin, Epoch: ev.Epoch, From: ev.From, To: ev.To})
		case "reset":
			writeSSE(bw, ev.ID, "reset", sseReason{Reason: ev.Reason})
		}
	}
}

// nextOrFlush returns the next event, first flushing what is buffered if
// the event is not ready at once.
func nextOrFlush(ctx context.Context, bw *bufio.Writer, rc *http.ResponseController, stream TopicStream) (TopicEvent, error) {
	if bw.Buffered() > 0 && !stream.Ready() {
		if err := bw.Flush(); err != nil {
			return TopicEvent{}, err
		}
		if err := rc.Flush(); err != nil {
			return TopicEvent{}, err
		}
	}
	return stream.Next(ctx)
}

// writeSSE writes one event. Event ids and names never contain line
// breaks, and the JSON data is one line.
func writeSSE(bw *bufio.Writer, id, event string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`{}`)
	}
	if id != "" {
		_, _ = bw.WriteString("id: " + id + "\n")
	}
	_, _ = bw.WriteString("event: " + event + "\ndata: ")
	_, _ = bw.Write(b)
	_, _ = bw.WriteString("\n\n")
}
