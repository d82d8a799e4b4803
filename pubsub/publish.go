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
	// Built in one buffer, without fmt: it is made for every message
	// published and acknowledged (issue 17 profiles).
	b := make([]byte, 0, len(origin)+1+16+1+20)
	b = append(b, origin...)
	b = append(b, ':')
	b = AppendEpochHex(b, epoch)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	return string(b)
}

// AppendEpochHex appends epoch as 16 lowercase hex digits, as
// fmt's "%016x" would.
func AppendEpochHex(b []byte, epoch uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(epoch>>uint(shift))&0xf])
	}
	return b
}

// Message is one message to publish with PublishBatch.
type Message struct {
	// ContentType is kept with the message (default
	// application/octet-stream).
	ContentType string
	Payload     []byte
	// Owned says Payload was allocated for this publish alone and nothing
	// will modify it: PublishBatch keeps it instead of copying it.
	Owned bool
}

// Publish publishes payload on tenant's topic. It returns once the
// message has its sequence number, is in this node's history (delivered
// to local subscribers) and has been handed to GossipSub by the topic's
// flusher, alone or in a batch (outbox.go); a GossipSub failure after
// that is logged, and peers repair it by backfill from this node's
// history. Publish copies payload.
func (s *Service) Publish(ctx context.Context, tenant, topicName, contentType string, payload []byte) (Published, error) {
	res, err := s.PublishBatch(ctx, tenant, topicName, []Message{{ContentType: contentType, Payload: payload}})
	if err != nil {
		return Published{}, err
	}
	return res[0], nil
}

// PublishBatch publishes msgs on tenant's topic as consecutive sequence
// numbers of this node's stream, with the guarantees of Publish. It is
// all or nothing: if one message is invalid (too large, a bad content
// type) none is published. It copies the payloads, except those marked
// Owned.
func (s *Service) PublishBatch(ctx context.Context, tenant, topicName string, msgs []Message) ([]Published, error) {
	name, err := TopicName(tenant, topicName)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	for i := range msgs {
		m := &msgs[i]
		if len(m.Payload) > s.cfg.MaxMessageSize {
			return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(m.Payload), s.cfg.MaxMessageSize)
		}
		if len(m.ContentType) > maxContentTypeLen || !printable(m.ContentType) {
			return nil, fmt.Errorf("%w: content type must be at most %d visible ASCII characters", ErrInvalid, maxContentTypeLen)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.openTopic(name)
	if err != nil {
		return nil, err
	}
	now := s.cfg.now()
	if t.own == nil {
		t.own = &stream{origin: s.cfg.NodeID, epoch: newEpoch(), own: true}
		t.own.ord.start(1)
		t.streams[t.own.epoch] = t.own
	}
	st := t.own
	envs := make([]*cassnetv1.Envelope, len(msgs))
	out := make([]Published, len(msgs))
	prev := st.lastTime
	// The ids of one batch share "<origin>:<epoch>:" (MessageID's
	// format): formatted once.
	idBuf := append(AppendEpochHex(append([]byte(s.cfg.NodeID), ':'), st.epoch), ':')
	prefix := len(idBuf)
	for i, m := range msgs {
		ct := m.ContentType
		if ct == "" {
			ct = defaultContentType
		}
		payload := m.Payload
		if !m.Owned {
			payload = append([]byte(nil), payload...)
		}
		env := &cassnetv1.Envelope{
			Origin: s.cfg.NodeID, Epoch: st.epoch, Seq: st.ord.next + uint64(i),
			PublishUnixNano: now.UnixNano(), PrevUnixNano: prev,
			ContentType: ct, Payload: payload,
		}
		prev = env.PublishUnixNano
		envs[i] = env
		idBuf = strconv.AppendUint(idBuf[:prefix], env.Seq, 10)
		out[i] = Published{ID: string(idBuf), Origin: env.Origin, Epoch: env.Epoch, Seq: env.Seq}
	}
	for _, env := range envs {
		ready, _ := st.ord.offer(env, now)
		t.deliverLocked(st, ready, now)
	}
	st.touched, t.lastUse = now, now
	st.announce.published(now, s.cfg.HistoryAge)
	t.queueLocked(envs)
	t.mu.Unlock()
	s.met.published.Add(float64(len(envs)))
	// Concurrent publishers wait for the same flush, so batches still
	// form; the wait is one gossip hand-over, not a network round trip.
	t.waitHanded(ctx, envs[len(envs)-1].GetSeq())
	return out, nil
}

// maxGossipBytes bounds one gossip message: a batch of BatchMax
// messages of which the last may take it past BatchBytes by one payload.
func (s *Service) maxGossipBytes() int {
	return s.cfg.BatchBytes + s.cfg.MaxMessageSize + (s.cfg.BatchMax+1)*envelopeOverhead
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
	if len(msg.GetData()) > s.maxGossipBytes() {
		return reject("too large")
	}
	if _, ok := s.peers.member(from); !ok {
		return reject("forwarded by a non-member")
	}
	m, ok := s.peers.member(msg.GetFrom())
	if !ok {
		return reject("author is not a member")
	}
	env, err := decodeGossip(msg.GetData(), s.cfg.MaxMessageSize, s.maxGossipBytes())
	if err != nil {
		return reject(err.Error())
	}
	if env.GetOrigin() != m.ID {
		return reject("origin does not match the author")
	}
	if h := s.cfg.dropGossip; h != nil {
		if env.GetKind() != cassnetv1.EnvelopeKind_ENVELOPE_KIND_BATCH {
			if h(env) {
				return lp2pps.ValidationIgnore
			}
		} else {
			// The test hook loses messages one by one, inside batches too.
			kept := env.Batch[:0:0]
			for _, e := range env.GetBatch() {
				if !h(e) {
					kept = append(kept, e)
				}
			}
			if len(kept) == 0 {
				return lp2pps.ValidationIgnore
			}
			env.Batch = kept
		}
	}
	msg.ValidatorData = env
	return lp2pps.ValidationAccept
}
