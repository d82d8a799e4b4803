package pubsub

import (
	"context"
	"fmt"
	"slices"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// Maintenance timing.
const (
	sweepEvery        = time.Second
	repairTimeout     = 10 * time.Second
	maxRepairAttempts = 3
	// streamForget is how long an idle stream with nothing retained is
	// remembered (its head answers "nothing missed" to resumes).
	streamForget       = time.Hour
	maxStreamsPerTopic = maxSummaryStreams
)

// maintainLoop repairs gaps whose hold expired and, every sweepEvery,
// evicts old history, announces heads and forgets idle topics.
func (s *Service) maintainLoop(ctx context.Context) {
	every := min(max(s.cfg.HoldTimeout/4, 10*time.Millisecond), 250*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var swept time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.cfg.now()
		s.scheduleRepairs(ctx, now)
		if now.Sub(swept) >= sweepEvery {
			s.sweep(ctx, now)
			swept = now
		}
	}
}

// repairJob is one gap to repair: stream st of t, sequence numbers
// from..to, filtered by publish time since (0: none).
type repairJob struct {
	t        *topic
	st       *stream
	from, to uint64
	since    int64
}

func (s *Service) scheduleRepairs(ctx context.Context, now time.Time) {
	s.gapMu.Lock()
	topics := make([]*topic, 0, len(s.gapped))
	for t := range s.gapped {
		topics = append(topics, t)
	}
	s.gapMu.Unlock()
	for _, t := range topics {
		open := false
		var jobs []repairJob
		t.mu.Lock()
		for _, st := range t.streams {
			if st.ord.gapSince.IsZero() {
				continue
			}
			open = true
			if st.repairing || !st.ord.due(now, s.cfg.HoldTimeout) {
				continue
			}
			from, to, _ := st.ord.missing()
			st.repairing = true
			jobs = append(jobs, repairJob{t: t, st: st, from: from, to: to, since: st.floor})
		}
		if !open || t.closed {
			s.gapMu.Lock()
			delete(s.gapped, t)
			s.gapMu.Unlock()
		}
		t.mu.Unlock()
		for _, j := range jobs {
			select {
			case s.repairSem <- struct{}{}:
				s.wg.Go(func() {
					defer func() { <-s.repairSem }()
					s.repair(ctx, j)
				})
			default: // busy: try again on the next tick
				t.mu.Lock()
				j.st.repairing = false
				t.mu.Unlock()
			}
		}
	}
}

// repair fetches a gap by backfill and delivers what it got; what is
// still missing once every peer has answered is declared a gap.
func (s *Service) repair(ctx context.Context, j repairJob) {
	rctx, cancel := context.WithTimeout(ctx, repairTimeout)
	got, answered := s.fetch(rctx, j.t.name, j.st.origin, j.st.epoch, j.from, j.to, j.since)
	cancel()
	now := s.cfg.now()
	t, st := j.t, j.st
	t.mu.Lock()
	defer t.mu.Unlock()
	st.repairing = false
	if t.closed {
		return
	}
	if j.since != 0 {
		st.floor = 0
		// The stream was first seen mid-way: what precedes the first
		// message published after the join was never wanted.
		if len(got) > 0 && (got[0].GetSeq() == 1 || got[0].GetPrevUnixNano() < j.since) && got[0].GetSeq() > st.ord.next {
			st.ord.skipTo(got[0].GetSeq()-1, now)
		}
	}
	for _, env := range got {
		ready, _ := st.ord.offer(env, now)
		t.deliverLocked(st, ready, now)
	}
	if !answered && st.attempts < maxRepairAttempts {
		st.attempts++
		st.ord.restartGapClock(now)
		return
	}
	st.attempts = 0
	for {
		from, to, ok := st.ord.missing()
		if !ok || from > j.to {
			return
		}
		to = min(to, j.to)
		ready := st.ord.skipTo(to, now)
		t.gapLocked(st, from, to, now)
		t.deliverLocked(st, ready, now)
	}
}

// sweep evicts aged history, sends due head announcements, forgets idle
// streams and leaves idle topics.
func (s *Service) sweep(ctx context.Context, now time.Time) {
	s.mu.Lock()
	topics := make([]*topic, 0, len(s.topics))
	for _, t := range s.topics {
		topics = append(topics, t)
	}
	s.mu.Unlock()
	for _, t := range topics {
		var heads []*cassnetv1.Envelope
		t.mu.Lock()
		t.hist.evict(now)
		if st := t.own; st != nil && st.announce.due(now) {
			heads = append(heads, st.head())
		}
		t.ended = slices.DeleteFunc(t.ended, func(st *stream) bool {
			if st.announce.due(now) {
				heads = append(heads, st.head())
			}
			return !st.announce.active()
		})
		t.forgetStreamsLocked(now)
		idle := t.subs == 0 && t.hist.first == t.hist.next && now.Sub(t.lastUse) > s.cfg.HistoryAge &&
			(t.own == nil || !t.own.announce.active()) && len(t.ended) == 0
		t.mu.Unlock()
		for _, head := range heads {
			if data, err := encodeEnvelope(head); err == nil {
				if err := t.lt.Publish(ctx, data); err != nil {
					s.log.Debug("head announcement failed", "topic", t.name, "err", err)
				}
			}
		}
		if idle {
			s.leaveIdle(t)
		}
	}
}

// head is the announcement of st's head.
func (st *stream) head() *cassnetv1.Envelope {
	return &cassnetv1.Envelope{
		Kind: cassnetv1.EnvelopeKind_ENVELOPE_KIND_HEAD, Origin: st.origin, Epoch: st.epoch,
		Seq: st.delivered(), PublishUnixNano: st.lastTime,
	}
}

// announcePrevious makes this node announce the heads of the streams it
// published in its previous life (from the head ledger), for what is left
// of their history age: receivers that missed their tail then repair it,
// or report it as a gap if nobody holds it.
func (s *Service) announcePrevious(prev []headRecord) {
	now := s.cfg.now()
	for _, r := range prev {
		t, err := s.openTopic(r.topic)
		if err != nil {
			s.log.Warn("cannot announce the head of a stream published before the restart", "topic", r.topic, "err", err)
			continue
		}
		if t.streams[r.epoch] == nil {
			st := &stream{origin: s.cfg.NodeID, epoch: r.epoch, ended: true, touched: now, lastTime: r.last}
			st.ord.start(r.seq + 1)
			st.announce.schedule(now, time.Unix(0, r.last).Add(s.cfg.HistoryAge))
			t.streams[r.epoch] = st
			t.ended = append(t.ended, st)
			s.log.Info("announcing the head of a stream published before the restart",
				"topic", r.topic, "epoch", fmt.Sprintf("%016x", r.epoch), "seq", r.seq)
		}
		t.lastUse = now
		t.mu.Unlock()
	}
}

// forgetStreamsLocked drops streams that retain nothing and have been
// idle for streamForget, and the least recently active beyond
// maxStreamsPerTopic. This node's own stream is never dropped while the
// topic lives (its sequence numbers must not restart within an epoch).
func (t *topic) forgetStreamsLocked(now time.Time) {
	for e, st := range t.streams {
		if st != t.own && len(st.retained) == 0 && !st.repairing && st.ord.gapSince.IsZero() &&
			!st.announce.active() && now.Sub(st.touched) > streamForget {
			delete(t.streams, e)
		}
	}
	for len(t.streams) > maxStreamsPerTopic {
		var oldest *stream
		for _, st := range t.streams {
			if st != t.own && !st.repairing && (oldest == nil || st.touched.Before(oldest.touched)) {
				oldest = st
			}
		}
		if oldest == nil {
			return
		}
		delete(t.streams, oldest.epoch)
	}
}

// leaveIdle leaves a topic nobody uses whose history is empty. Its
// stream state goes with it: a later publish starts a new epoch.
func (s *Service) leaveIdle(t *topic) {
	s.mu.Lock()
	if s.topics[t.name] != t {
		s.mu.Unlock()
		return
	}
	t.mu.Lock()
	busy := t.subs > 0 || t.hist.first != t.hist.next
	if !busy {
		t.closed = true // under both locks: nobody can start using it now
	}
	t.mu.Unlock()
	if busy {
		s.mu.Unlock()
		return
	}
	delete(s.topics, t.name)
	s.mu.Unlock()
	t.close()
	s.log.Debug("left idle topic", "topic", t.name)
}
