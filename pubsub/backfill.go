package pubsub

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Backfill deadlines.
const (
	serveTimeout   = 10 * time.Second // a whole server exchange
	requestTimeout = 3 * time.Second  // one client request
	summaryTimeout = 2 * time.Second  // asking every peer for summaries
)

// handleBackfill serves one /cassnet/backfill/1.0.0 request from this
// node's history: read one bounded request, write one response, close.
func (s *Service) handleBackfill(str network.Stream) {
	defer str.Close()
	select {
	case s.serveSem <- struct{}{}:
		defer func() { <-s.serveSem }()
	default:
		_ = str.Reset() // too many at once: the client tries another peer
		return
	}
	_ = str.SetDeadline(time.Now().Add(serveTimeout))
	if _, ok := s.peers.member(str.Conn().RemotePeer()); !ok {
		_ = str.Reset()
		return
	}
	b, err := readFrame(bufio.NewReader(str), maxRequestBytes)
	if err != nil {
		_ = str.Reset()
		return
	}
	resp := &cassnetv1.BackfillResponse{}
	if req, err := decodeBackfillRequest(b); err != nil {
		resp.Error = err.Error()
	} else {
		resp = s.serveBackfill(req)
	}
	if err := writeFrame(str, resp); err != nil {
		s.log.Debug("backfill response not sent", "err", err)
	}
}

// serveBackfill answers a checked request from the local history.
func (s *Service) serveBackfill(req *cassnetv1.BackfillRequest) *cassnetv1.BackfillResponse {
	resp := &cassnetv1.BackfillResponse{}
	t, err := s.topic(req.GetTopic(), false)
	if err != nil || t == nil {
		return resp
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if req.GetSummary() {
		for _, st := range t.streams {
			resp.Streams = append(resp.Streams, st.summary())
		}
		slices.SortFunc(resp.Streams, func(a, b *cassnetv1.StreamSummary) int {
			return cmp.Compare(b.GetLastUnixNano(), a.GetLastUnixNano())
		})
		if len(resp.Streams) > maxSummaryStreams {
			resp.Streams = resp.Streams[:maxSummaryStreams]
		}
		return resp
	}
	st := t.streams[req.GetEpoch()]
	if st == nil {
		return resp
	}
	resp.Streams = []*cassnetv1.StreamSummary{st.summary()}
	budget := maxResponseBudget
	for _, env := range st.lookup(req.GetFromSeq(), req.GetToSeq()) {
		if env.GetPublishUnixNano() < req.GetSinceUnixNano() {
			continue
		}
		if len(resp.Messages) == maxBackfillBatch || budget < len(env.GetPayload()) {
			break
		}
		budget -= len(env.GetPayload()) + 64
		resp.Messages = append(resp.Messages, env)
	}
	return resp
}

// request sends one backfill request to pid and returns its response.
func (s *Service) request(ctx context.Context, pid peer.ID, req *cassnetv1.BackfillRequest) (*cassnetv1.BackfillResponse, error) {
	if h := s.cfg.cutBackfill; h != nil {
		if m, ok := s.peers.member(pid); ok && h(m.ID) {
			return nil, errors.New("pubsub: test hook: peer unreachable")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	str, err := s.host.NewStream(ctx, pid, backfillProtocol)
	if err != nil {
		return nil, fmt.Errorf("pubsub: open backfill stream to %s: %w", pid, err)
	}
	defer str.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}
	if err := writeFrame(str, req); err != nil {
		_ = str.Reset()
		return nil, err
	}
	_ = str.CloseWrite()
	limit := maxResponseBytes(s.cfg.MaxMessageSize)
	b, err := readFrame(bufio.NewReader(io.LimitReader(str, int64(limit)+16)), limit)
	if err != nil {
		_ = str.Reset()
		return nil, err
	}
	resp, err := decodeBackfillResponse(b, s.cfg.MaxMessageSize)
	if err != nil {
		return nil, err
	}
	if resp.GetError() != "" {
		return nil, fmt.Errorf("pubsub: backfill refused by %s: %s", pid, resp.GetError())
	}
	return resp, nil
}

// candidates lists the peers to ask for an origin's messages: the origin
// first, then every other member (any node may retain them).
func (s *Service) candidates(origin string) []peer.ID {
	tbl := s.peers.table()
	var out []peer.ID
	first, ok := tbl.byNode[origin]
	if ok && first != s.self {
		out = append(out, first)
	}
	var rest []peer.ID
	for pid := range tbl.byPeer {
		if pid != first {
			rest = append(rest, pid)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// fetch collects messages from..to of one stream from peers, origin
// first. since filters by publish time (0: all). It returns what it got,
// in sequence order, and whether every peer asked answered (so that what
// is still missing is known to be gone, not just unreachable).
func (s *Service) fetch(ctx context.Context, topicName, origin string, epoch, from, to uint64, since int64) ([]*cassnetv1.Envelope, bool) {
	if span := uint64(s.cfg.HistorySize); to-from >= span {
		from = to - span + 1 // no node retains more; the rest is a gap
	}
	have := make(map[uint64]*cassnetv1.Envelope)
	firstMissing := func() uint64 {
		for q := from; q <= to; q++ {
			if have[q] == nil {
				return q
			}
		}
		return 0
	}
	answered := true
	for _, pid := range s.candidates(origin) {
		for {
			lo := firstMissing()
			if lo == 0 || ctx.Err() != nil {
				break
			}
			resp, err := s.request(ctx, pid, &cassnetv1.BackfillRequest{
				Topic: topicName, Epoch: epoch, FromSeq: lo, ToSeq: to, SinceUnixNano: since,
			})
			if err != nil {
				s.log.Debug("backfill request failed", "peer_id", pid.String(), "err", err)
				answered = false
				break
			}
			got := 0
			for _, env := range resp.GetMessages() {
				q := env.GetSeq()
				if env.GetEpoch() == epoch && env.GetOrigin() == origin && q >= lo && q <= to && have[q] == nil {
					have[q] = env
					got++
				}
			}
			if got == 0 || len(resp.GetMessages()) < maxBackfillBatch {
				break
			}
		}
		if firstMissing() == 0 {
			break
		}
	}
	out := make([]*cassnetv1.Envelope, 0, len(have))
	for _, env := range have {
		out = append(out, env)
	}
	slices.SortFunc(out, func(a, b *cassnetv1.Envelope) int { return cmp.Compare(a.GetSeq(), b.GetSeq()) })
	s.met.backfilled.Add(float64(len(out)))
	return out, answered && ctx.Err() == nil
}

// summaries asks every peer, in parallel, which streams of the topic it
// knows. Unreachable peers are skipped.
func (s *Service) summaries(ctx context.Context, topicName string) []*cassnetv1.StreamSummary {
	ctx, cancel := context.WithTimeout(ctx, summaryTimeout)
	defer cancel()
	var (
		mu  sync.Mutex
		out []*cassnetv1.StreamSummary
		wg  sync.WaitGroup
	)
	for pid := range s.peers.table().byPeer {
		wg.Go(func() {
			resp, err := s.request(ctx, pid, &cassnetv1.BackfillRequest{Topic: topicName, Summary: true})
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, resp.GetStreams()...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
