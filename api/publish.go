package api

import (
	"errors"
	"io"
	"net/http"
	"strings"
)

// topicsOr503 returns the node's Topics, or answers 503 when topic
// messaging is not configured.
func (s *Server) topicsOr503(w http.ResponseWriter) (Topics, bool) {
	if s.topics == nil {
		writeError(w, errorf(http.StatusServiceUnavailable, codeNotReady, "%s", ErrTopicsUnavailable.Error()))
		return nil, false
	}
	return s.topics, true
}

// tenantExists answers 404 unless the tenant is in the local replica
// (a stale read: no Raft round trip on the messaging path).
func (s *Server) tenantExists(w http.ResponseWriter, r *http.Request, tenant string) bool {
	if _, ok := s.state.Tenancy.Tenant(tenant); !ok {
		s.fail(w, r, notFound("tenant %q not found", tenant))
		return false
	}
	return true
}

// topicError maps errors of the Topics contract; others go to fail.
func (s *Server) topicError(w http.ResponseWriter, r *http.Request, err error) {
	msg := func(sentinel error) string {
		m := err.Error()
		if i := strings.Index(m, sentinel.Error()+": "); i >= 0 {
			return m[i+len(sentinel.Error())+2:]
		}
		return sentinel.Error()
	}
	switch {
	case errors.Is(err, ErrTopicInvalid):
		s.fail(w, r, badRequest("%s", msg(ErrTopicInvalid)))
	case errors.Is(err, ErrTopicTooLarge):
		s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, codePayloadTooLarge, "%s", msg(ErrTopicTooLarge)))
	case errors.Is(err, ErrTopicsUnavailable):
		s.fail(w, r, errorf(http.StatusServiceUnavailable, codeNotReady, "%s", msg(ErrTopicsUnavailable)))
	default:
		s.fail(w, r, err)
	}
}

// handlePublish publishes the request body, Content-Type kept, on a topic.
func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request, _ Principal) {
	topics, ok := s.topicsOr503(w)
	if !ok {
		return
	}
	tenant, topic := r.PathValue("tenant"), r.PathValue("topic")
	if !s.tenantExists(w, r, tenant) {
		return
	}
	limit := int64(topics.MaxMessageSize())
	if r.ContentLength > limit {
		s.fail(w, r, tooLarge(limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			s.fail(w, r, tooLarge(limit))
			return
		}
		s.fail(w, r, badRequest("could not read the body"))
		return
	}
	res, err := topics.Publish(r.Context(), tenant, topic, r.Header.Get("Content-Type"), body)
	if err != nil {
		s.topicError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

// handlePubSubPeers lists the libp2p peers.
func (s *Server) handlePubSubPeers(w http.ResponseWriter, _ *http.Request, _ Principal) {
	topics, ok := s.topicsOr503(w)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Peers []TopicPeer `json:"peers"`
	}{nonNil(topics.Peers())})
}
