package api

import (
	"context"
	"errors"
	"time"
)

// Topics is topic messaging (package pubsub) as the API sees it. The node
// adapts pubsub.Service to it, so that api does not link libp2p; unit
// tests plug in an in-memory one. All methods are safe for concurrent use.
type Topics interface {
	// Publish publishes payload on tenant's topic and returns once this
	// node has sequenced it. Errors wrap ErrTopicInvalid (topic name or
	// content type), ErrTopicTooLarge or ErrTopicsUnavailable; others are
	// internal.
	Publish(ctx context.Context, tenant, topic, contentType string, payload []byte) (PublishedMessage, error)
	// Subscribe opens a subscription. A non-empty lastEventID (an event
	// ID from any node) resumes after that event. Errors wrap
	// ErrTopicInvalid (topic name or event id) or ErrTopicsUnavailable.
	Subscribe(ctx context.Context, tenant, topic, lastEventID string) (TopicStream, error)
	// Peers lists the libp2p peers and the mesh members they belong to.
	Peers() []TopicPeer
	// MaxMessageSize is the payload limit in bytes.
	MaxMessageSize() int
}

// TopicStream is one subscription. Next is called from one goroutine;
// Close may be called from any, more than once.
type TopicStream interface {
	// Next blocks until the next event. It returns ctx's error when ctx
	// ends; any other error ends the stream, and its message (safe to
	// show) is the reason given to the client, who may resume.
	Next(ctx context.Context) (TopicEvent, error)
	// Ready reports whether Next would return without waiting.
	Ready() bool
	Close()
}

// BatchTopicStream is optionally implemented by a TopicStream: NextBatch
// appends to dst the events that are ready, at most max (≥ 1), blocking
// like Next until there is at least one, and returns it. When an error
// ends a batch early, the events appended so far come with a nil error
// and the next call returns the error. Like Next, it is called from one
// goroutine.
type BatchTopicStream interface {
	NextBatch(ctx context.Context, dst []TopicEvent, max int) ([]TopicEvent, error)
}

// nextEvents is NextBatch when stream has it, else Next for the first
// event and then while Ready.
func nextEvents(ctx context.Context, stream TopicStream, dst []TopicEvent, max int) ([]TopicEvent, error) {
	if bs, ok := stream.(BatchTopicStream); ok {
		return bs.NextBatch(ctx, dst, max)
	}
	for n := 0; n < max; n++ {
		if n > 0 && !stream.Ready() {
			break
		}
		ev, err := stream.Next(ctx)
		if err != nil {
			if n == 0 {
				return dst, err
			}
			return dst, nil
		}
		dst = append(dst, ev)
	}
	return dst, nil
}

// Errors of the Topics contract. Their messages are shown to clients.
var (
	ErrTopicInvalid      = errors.New("invalid topic request")
	ErrTopicTooLarge     = errors.New("message too large")
	ErrTopicsUnavailable = errors.New("topic messaging is not running on this node")
)

// PublishedMessage is the answer to a publish.
type PublishedMessage struct {
	// ID is "<origin>:<epoch>:<seq>", unique cluster-wide.
	ID     string `json:"id"`
	Seq    uint64 `json:"seq"`
	Origin string `json:"origin"`
	// Epoch is the origin's epoch as 16 hex digits.
	Epoch string `json:"epoch"`
}

// TopicEvent is one event of a subscription.
type TopicEvent struct {
	// Kind is "message", "gap" or "reset".
	Kind string
	// ID is the SSE event id, for Last-Event-ID.
	ID     string
	Origin string
	Epoch  string
	// Seq, Published, ContentType and Payload describe a message.
	Seq         uint64
	Published   time.Time
	ContentType string
	Payload     []byte
	// From and To are a gap's lost sequence numbers (inclusive).
	From, To uint64
	// Reason explains a reset.
	Reason string
}

// TopicPeer is one libp2p peer.
type TopicPeer struct {
	PeerID       string   `json:"peer_id"`
	Addrs        []string `json:"addrs"`
	Member       string   `json:"member,omitempty"`
	NodeID       string   `json:"node_id,omitempty"`
	MemberStatus string   `json:"member_status,omitempty"`
	Connected    bool     `json:"connected"`
}
