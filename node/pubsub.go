package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/pki"
	"github.com/cassandranet/cassnet/pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// newPubSub configures topic messaging on the p2p port; Start comes after
// the mesh's, Stop before it. A peer is admitted only if an alive member
// advertises its peer ID and that member's certificate binds it
// (peerbind.go).
func (n *Node) newPubSub(key crypto.PrivKey, members pubsub.Members, id *pki.Identity) (*pubsub.Service, error) {
	ps, err := pubsub.New(pubsub.Config{
		NodeID: n.id, Key: key, Members: members, Binder: n.peerBinder(id),
		ListenAddr:     net.JoinHostPort(n.cfg.Bind, strconv.Itoa(n.cfg.P2PPort)),
		MaxMessageSize: n.cfg.PubSubMaxMessageSize,
		HistorySize:    n.cfg.PubSubHistorySize,
		BatchMax:       n.cfg.PubSubBatchMax,
		BatchLinger:    n.cfg.PubSubBatchLinger,
		HistoryAge:     n.cfg.PubSubHistoryAge,
		HeadsPath:      filepath.Join(n.cfg.DataDir, "pubsub-heads"),
		Logger:         n.logger.With("component", "pubsub"),
	})
	if err != nil {
		return nil, fmt.Errorf("configure pubsub: %w", err)
	}
	return ps, nil
}

// topics adapts pubsub.Service to api.Topics: api does not import pubsub
// (which links libp2p), so types and errors are translated here.
type topics struct{ ps *pubsub.Service }

// Publish implements api.Topics.
func (t topics) Publish(ctx context.Context, tenant, topic, contentType string, payload []byte) (api.PublishedMessage, error) {
	res, err := t.ps.Publish(ctx, tenant, topic, contentType, payload)
	if err != nil {
		return api.PublishedMessage{}, topicErr(err)
	}
	return api.PublishedMessage{ID: res.ID, Seq: res.Seq, Origin: res.Origin, Epoch: epochHex(res.Epoch)}, nil
}

// PublishBatch implements api.BatchPublisher.
func (t topics) PublishBatch(ctx context.Context, tenant, topic string, msgs []api.TopicMessage) ([]api.PublishedMessage, error) {
	in := make([]pubsub.Message, len(msgs))
	for i, m := range msgs {
		in[i] = pubsub.Message{ContentType: m.ContentType, Payload: m.Payload, Owned: m.Owned}
	}
	res, err := t.ps.PublishBatch(ctx, tenant, topic, in)
	if err != nil {
		return nil, topicErr(err)
	}
	out := make([]api.PublishedMessage, len(res))
	var epochs epochCache // a batch is one stream: one hex string
	for i, r := range res {
		out[i] = api.PublishedMessage{ID: r.ID, Seq: r.Seq, Origin: r.Origin, Epoch: epochs.hexOf(r.Epoch)}
	}
	return out, nil
}

// Subscribe implements api.Topics.
func (t topics) Subscribe(ctx context.Context, tenant, topic, lastEventID string) (api.TopicStream, error) {
	sub, err := t.ps.Subscribe(ctx, tenant, topic, lastEventID)
	if err != nil {
		return nil, topicErr(err)
	}
	return &topicStream{sub: sub}, nil
}

// Peers implements api.Topics.
func (t topics) Peers() []api.TopicPeer {
	var out []api.TopicPeer
	for _, p := range t.ps.Peers() {
		out = append(out, api.TopicPeer{PeerID: p.PeerID, Addrs: p.Addrs, Member: p.Member,
			NodeID: p.NodeID, MemberStatus: p.MemberStatus, Connected: p.Connected})
	}
	return out
}

// MaxMessageSize implements api.Topics.
func (t topics) MaxMessageSize() int { return t.ps.MaxMessageSize() }

// topicStream adapts pubsub.Subscription to api.TopicStream and
// api.BatchTopicStream.
type topicStream struct {
	sub *pubsub.Subscription
	// batch is NextBatch's buffer; epoch caches the hex of the last
	// epoch seen (events come in runs of one stream).
	batch []pubsub.Event
	epoch epochCache
}

// epochCache remembers one epoch's hex form.
type epochCache struct {
	epoch uint64
	hex   string
}

func (c *epochCache) hexOf(e uint64) string {
	if c.epoch != e || c.hex == "" { // an empty hex: nothing cached yet
		c.epoch, c.hex = e, epochHex(e)
	}
	return c.hex
}

// Next implements api.TopicStream.
func (s *topicStream) Next(ctx context.Context) (api.TopicEvent, error) {
	ev, err := s.sub.Next(ctx)
	if err != nil {
		return api.TopicEvent{}, err
	}
	return s.event(ev), nil
}

// NextBatch implements api.BatchTopicStream.
func (s *topicStream) NextBatch(ctx context.Context, dst []api.TopicEvent, max int) ([]api.TopicEvent, error) {
	var err error
	s.batch, err = s.sub.NextBatch(ctx, s.batch[:0], max)
	for _, ev := range s.batch {
		dst = append(dst, s.event(ev))
	}
	clear(s.batch) // do not pin the history's payloads
	return dst, err
}

func (s *topicStream) event(ev pubsub.Event) api.TopicEvent {
	return api.TopicEvent{Kind: ev.Kind.String(), ID: ev.ID, Origin: ev.Origin, Epoch: s.epoch.hexOf(ev.Epoch),
		Seq: ev.Seq, Published: ev.Published, ContentType: ev.ContentType, Payload: ev.Payload,
		From: ev.From, To: ev.To, Reason: ev.Reason}
}

// Ready implements api.TopicStream.
func (s *topicStream) Ready() bool { return s.sub.Ready() }

// Close implements api.TopicStream.
func (s *topicStream) Close() { s.sub.Close() }

func epochHex(e uint64) string {
	var b [16]byte
	return string(pubsub.AppendEpochHex(b[:0], e))
}

// topicErr maps pubsub's errors onto the api.Topics contract.
func topicErr(err error) error {
	switch {
	case errors.Is(err, pubsub.ErrInvalid):
		return fmt.Errorf("%w: %s", api.ErrTopicInvalid, trimPrefix(err, pubsub.ErrInvalid))
	case errors.Is(err, pubsub.ErrTooLarge):
		return fmt.Errorf("%w: %s", api.ErrTopicTooLarge, trimPrefix(err, pubsub.ErrTooLarge))
	case errors.Is(err, pubsub.ErrClosed), errors.Is(err, pubsub.ErrTooManyTopics):
		return fmt.Errorf("%w: %v", api.ErrTopicsUnavailable, err)
	}
	return err
}

// trimPrefix drops "sentinel: " from err's message.
func trimPrefix(err, sentinel error) string {
	m, p := err.Error(), sentinel.Error()+": "
	if len(m) > len(p) && m[:len(p)] == p {
		return m[len(p):]
	}
	return m
}
