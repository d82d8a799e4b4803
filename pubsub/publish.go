package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Published identifies a message accepted by Publish.
type Published struct {
	// ID is "<origin>:<epoch in hex>:<seq>", unique cluster-wide.
	ID     string
	Origin string
	Epoch  uint64
	Seq    uint64
}

// MessageID formats a message's cluster-wide id.
func MessageID(origin string, epoch, seq uint64) string {
	return origin + ":" + fmt.Sprintf("%016x", epoch) + ":" + strconv.FormatUint(seq, 10)
}

// Publish publishes payload on tenant's topic. It returns once the
// message has its sequence number, is in this node's history (delivered
// to local subscribers) and has been handed to GossipSub; a GossipSub
// failure after that is logged, and peers repair it by backfill from this
// node's history. Publish copies payload.
func (s *Service) Publish(ctx context.Context, tenant, topicName, contentType string, payload []byte) (Published, error) {
	name, err := TopicName(tenant, topicName)
	if err != nil {
		return Published{}, err
	}
	if len(payload) > s.cfg.MaxMessageSize {
		return Published{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(payload), s.cfg.MaxMessageSize)
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	if len(contentType) > maxContentTypeLen || !printable(contentType) {
		return Published{}, fmt.Errorf("%w: content type must be at most %d visible ASCII characters", ErrInvalid, maxContentTypeLen)
	}
	t, err := s.openTopic(name)
	if err != nil {
		return Published{}, err
	}
	now := s.cfg.now()
	if t.own == nil {
		t.own = &stream{origin: s.cfg.NodeID, epoch: newEpoch(), own: true}
		t.own.ord.start(1)
		t.streams[t.own.epoch] = t.own
	}
	st := t.own
	env := &cassnetv1.Envelope{
		Origin: s.cfg.NodeID, Epoch: st.epoch, Seq: st.ord.next,
		PublishUnixNano: now.UnixNano(), PrevUnixNano: st.lastTime,
		ContentType: contentType, Payload: append([]byte(nil), payload...),
	}
	data, err := encodeEnvelope(env)
	if err != nil {
		t.mu.Unlock()
		return Published{}, err
	}
	ready, _ := st.ord.offer(env, now)
	t.deliverLocked(st, ready, now)
	st.touched, t.lastUse = now, now
	st.announce.published(now, s.cfg.HistoryAge)
	t.mu.Unlock()
	s.met.published.Inc()
	// data is a fresh buffer that nothing else holds: GossipSub keeps it.
	if err := t.lt.Publish(ctx, data); err != nil {
		s.log.Warn("gossip publish failed; peers will backfill", "topic", name, "seq", env.Seq, "err", err)
	}
	return Published{ID: MessageID(env.Origin, env.Epoch, env.Seq), Origin: env.Origin, Epoch: env.Epoch, Seq: env.Seq}, nil
}

// newEpoch returns a random non-zero epoch.
func newEpoch() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}

// validate is the topic validator GossipSub runs on every message before
// it is delivered or forwarded (inline, on its validation workers).
func (s *Service) validate(_ context.Context, from peer.ID, msg *lp2pps.Message) lp2pps.ValidationResult {
	if from == s.self {
		return lp2pps.ValidationAccept // our own publish
	}
	reject := func(why string) lp2pps.ValidationResult {
		s.log.Debug("gossip message refused", "from", from.String(), "reason", why)
		return lp2pps.ValidationReject
	}
	if len(msg.GetData()) > s.cfg.MaxMessageSize+envelopeOverhead {
		return reject("too large")
	}
	if _, ok := s.peers.member(from); !ok {
		return reject("forwarded by a non-member")
	}
	m, ok := s.peers.member(msg.GetFrom())
	if !ok {
		return reject("author is not a member")
	}
	env, err := decodeEnvelope(msg.GetData(), s.cfg.MaxMessageSize)
	if err != nil {
		return reject(err.Error())
	}
	if env.GetOrigin() != m.ID {
		return reject("origin does not match the author")
	}
	if h := s.cfg.dropGossip; h != nil && h(env) {
		return lp2pps.ValidationIgnore
	}
	msg.ValidatorData = env
	return lp2pps.ValidationAccept
}
