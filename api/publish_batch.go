package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"
)

// Batch publishing: POST /v1/tenants/{tenant}/topics/{topic}/batch. One
// request carries up to maxPublishBatch messages, sequenced on this node
// as consecutive sequence numbers of its stream (all or nothing), so a
// relay pays one HTTP round trip, one authentication and one JSON answer
// for many messages. Each message draws one token from the publish rate
// limits.

// maxPublishBatch bounds the messages of one batch request.
const maxPublishBatch = 1000

// TopicMessage is one message of a batch publish.
type TopicMessage struct {
	ContentType string
	Payload     []byte
	// Owned says Payload was allocated for this publish alone and is
	// never modified: the topics may keep it without a copy.
	Owned bool
}

// BatchPublisher is optionally implemented by Topics: PublishBatch
// publishes msgs on one topic as consecutive messages, all or nothing,
// with Publish's errors. Without it the API publishes them one by one.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, tenant, topic string, msgs []TopicMessage) ([]PublishedMessage, error)
}

// batchMessage is one message in a batch request body: payload (UTF-8
// text) or payload_base64 (bytes), not both.
type batchMessage struct {
	ContentType   string  `json:"content_type"`
	Payload       *string `json:"payload"`
	PayloadBase64 *string `json:"payload_base64"`
}

type batchRequest struct {
	Messages []batchMessage `json:"messages"`
}

type batchResponse struct {
	Messages []PublishedMessage `json:"messages"`
}

// publishBatch publishes msgs through topics, as one batch if it can.
func publishBatch(ctx context.Context, topics Topics, tenant, topic string, msgs []TopicMessage) ([]PublishedMessage, error) {
	if bp, ok := topics.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, tenant, topic, msgs)
	}
	out := make([]PublishedMessage, 0, len(msgs))
	for _, m := range msgs {
		res, err := topics.Publish(ctx, tenant, topic, m.ContentType, m.Payload)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// batchBodyLimit bounds a batch request body: every message at the
// payload limit, base64-encoded, plus JSON.
func batchBodyLimit(maxPayload int) int64 {
	return int64(min(maxPublishBatch*(maxPayload*4/3+512), 16<<20))
}

// handlePublishBatch publishes a JSON batch of messages on a topic.
func (s *Server) handlePublishBatch(w http.ResponseWriter, r *http.Request, p Principal) {
	topics, ok := s.topicsOr503(w)
	if !ok {
		return
	}
	tenant, topic := r.PathValue("tenant"), r.PathValue("topic")
	if !s.tenantExists(w, r, tenant) {
		return
	}
	var req batchRequest
	if err := decodeJSON(w, r, batchBodyLimit(topics.MaxMessageSize()), &req); err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, aerr := batchMessages(req.Messages, topics.MaxMessageSize())
	if aerr != nil {
		s.fail(w, r, aerr)
		return
	}
	// The route's own token was taken by the rate limiter; the rest of
	// the batch draws one token a message.
	if len(msgs) > 1 && s.publishLimited(w, r, p, len(msgs)-1) {
		return
	}
	res, err := publishBatch(r.Context(), topics, tenant, topic, msgs)
	if err != nil {
		s.topicError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, batchResponse{Messages: res})
}

// batchMessages checks and converts a batch request's messages.
func batchMessages(in []batchMessage, maxPayload int) ([]TopicMessage, *apiError) {
	if len(in) == 0 || len(in) > maxPublishBatch {
		return nil, badRequest("messages: between 1 and %d messages", maxPublishBatch)
	}
	out := make([]TopicMessage, len(in))
	for i, m := range in {
		switch {
		case m.Payload != nil && m.PayloadBase64 != nil:
			return nil, badRequest("messages[%d]: payload and payload_base64 are exclusive", i)
		case m.Payload != nil:
			out[i].Payload = []byte(*m.Payload)
		case m.PayloadBase64 != nil:
			b, err := base64.StdEncoding.DecodeString(*m.PayloadBase64)
			if err != nil {
				return nil, badRequest("messages[%d]: payload_base64 is not base64", i)
			}
			out[i].Payload = b
		}
		if len(out[i].Payload) > maxPayload {
			return nil, errorf(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
				"messages[%d]: %d bytes, the limit is %d", i, len(out[i].Payload), maxPayload)
		}
		out[i].ContentType = m.ContentType
	}
	return out, nil
}

// publishLimited takes n more tokens from p's publish buckets, or answers
// 429 (taking none) and reports true.
func (s *Server) publishLimited(w http.ResponseWriter, r *http.Request, p Principal, n int) bool {
	ok, wait := s.limits.publish.allowN(p, s.now(), n)
	if ok {
		return false
	}
	writeRateLimited(w, wait)
	s.metrics.rateLimited.WithLabelValues(s.tenantLabel(r, p), r.Pattern).Inc()
	return true
}

// writeRateLimited answers 429 with Retry-After.
func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	secs := max(int(wait.Seconds()+0.999), 1)
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	writeError(w, errorf(http.StatusTooManyRequests, codeRateLimited, "too many requests; retry after %d s", secs))
}
