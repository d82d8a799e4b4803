package testnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The messaging phases of Benchmark: 1 KiB payloads published on the last
// server and received by one subscriber on the first, for cassnet (through
// REST with an SSE subscriber, and through the streaming protocol) and for
// a 3-server NATS cluster, in the same run.
//
// Shapes:
//   - throughput: publishers go as fast as the system takes messages,
//     with at most msgWindow messages published but not yet received (an
//     end-to-end window, the same for every system, so that no side is
//     measured while it drops messages for a slow consumer);
//     msgs/s is what the subscriber received.
//   - latency: one publisher paced at msgLatencyRate per second; latency
//     is client clock to client clock (the send time is in the payload).
//
// Every cassnet phase checks delivery: each sequence number is received
// in order or covered by a gap event, and anything else is counted as a
// silent drop (the goal is none).

const (
	msgPayload     = 1024
	msgWindow      = 4096
	msgLatencyRate = 1000
	msgDrainWait   = 30 * time.Second
)

// msgPub publishes benchmark messages. publish may return before the
// message is acknowledged (errors then arrive through failed); flush sends
// anything buffered.
type msgPub interface {
	publish(ctx context.Context, payload []byte) error
	flush() error
}

// msgEvent is what a subscriber received: a message (seq is 0 when the
// system has no sequence numbers) or a gap from..to.
type msgEvent struct {
	payload  []byte
	seq      uint64
	gap      bool
	from, to uint64
}

// msgSub receives benchmark messages.
type msgSub interface {
	next(ctx context.Context) (msgEvent, error)
}

// MsgPhase is one messaging phase of one system.
type MsgPhase struct {
	Published int     `json:"published"`
	Delivered int     `json:"delivered"`
	PerSec    float64 `json:"per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	// Gapped counts messages reported lost by gap events; SilentDrops
	// those neither delivered nor reported (sequenced systems only).
	Gapped      int `json:"gapped"`
	SilentDrops int `json:"silent_drops"`
	// Duplicates counts sequenced messages delivered after a later one of
	// their stream (sequenced systems only): a message delivered twice, or
	// out of order; either breaks the stream's promise.
	Duplicates int `json:"duplicates"`
	// Unacknowledged counts publishes the end of the phase cut off before
	// their answer: their outcome is unknown, so Delivered may exceed
	// Published by up to this many without any duplicate.
	Unacknowledged int            `json:"unacknowledged"`
	Errors         map[string]int `json:"errors,omitempty"`
	// Rate is the achieved publish rate of a paced phase.
	Rate float64 `json:"rate,omitempty"`
	// CPUMicrosPerMsg is the CPU time (user + system) the system's
	// processes and the load generator spent per delivered message, in
	// µs (benchcpu.go); 0 if it could not be read.
	CPUMicrosPerMsg float64 `json:"cpu_us_per_msg,omitempty"`
}

// msgRun is one phase in progress.
type msgRun struct {
	mu        sync.Mutex
	errors    map[string]int
	published int
	cut       int // publishes whose answer the phase's end cut off
}

func (r *msgRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errors == nil {
		r.errors = map[string]int{}
	}
	r.errors[ErrorClass(err)]++
}

// runMsgPhase publishes for d through pubs (one goroutine each), paced at
// rate per second in total if rate > 0, and receives through sub until
// everything published has arrived or msgDrainWait passes.
func runMsgPhase(ctx context.Context, pubs []msgPub, sub msgSub, d time.Duration, rate int, sequenced bool, pids []int) MsgPhase {
	run := &msgRun{}
	cpu := sampleCPU(pids)
	window := make(chan struct{}, msgWindow)
	for range msgWindow {
		window <- struct{}{}
	}
	pctx, stop := context.WithTimeout(ctx, d)
	defer stop()
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() { run.publishLoop(pctx, p, window, rate/len(pubs), i) })
	}
	pubDone := make(chan struct{})
	go func() { wg.Wait(); close(pubDone) }()

	evc, errc, rdone := make(chan msgEvent, 1024), make(chan error, 1), make(chan struct{})
	defer close(rdone)
	go func() { // ends when the caller closes the subscriber's connection
		for {
			ev, err := sub.next(ctx)
			if err != nil {
				errc <- err
				return
			}
			select {
			case evc <- ev:
			case <-rdone:
				return
			}
		}
	}()

	var lat Histogram
	var res MsgPhase
	var last time.Time
	var expect uint64 = 1
	received, pubsDone := 0, false
	idle := time.NewTimer(msgDrainWait)
	defer idle.Stop()
recv:
	for {
		if pubsDone {
			run.mu.Lock()
			total := run.published
			run.mu.Unlock()
			if received >= total {
				break
			}
		}
		var ev msgEvent
		select {
		case <-pubDone:
			pubsDone, pubDone = true, nil
			continue
		case err := <-errc:
			run.fail(fmt.Errorf("subscriber: %w", err))
			break recv
		case <-idle.C:
			run.fail(errors.New("subscriber: nothing received for 30 s"))
			break recv
		case ev = <-evc:
		}
		idle.Reset(msgDrainWait)
		now := time.Now()
		switch {
		case ev.gap:
			n := int(ev.to - ev.from + 1)
			res.Gapped += n
			received += n
			if sequenced && ev.from > expect {
				res.SilentDrops += int(ev.from - expect)
			}
			expect = max(expect, ev.to+1)
		default:
			received++
			res.Delivered++
			if sequenced {
				if ev.seq < expect {
					res.Duplicates++
				}
				if ev.seq > expect {
					res.SilentDrops += int(ev.seq - expect)
				}
				expect = max(expect, ev.seq+1)
			}
			if len(ev.payload) >= 8 {
				lat.Record(now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(ev.payload)))))
			}
			last = now
		}
		select {
		case window <- struct{}{}:
		default:
		}
	}
	stop()
	wg.Wait()
	for _, p := range pubs {
		_ = p.flush()
	}
	res.Published, res.Unacknowledged = run.published, run.cut
	res.CPUMicrosPerMsg = cpu.microsPerMsg(res.Delivered)
	if !last.IsZero() {
		res.PerSec = float64(res.Delivered) / last.Sub(start).Seconds()
	}
	if rate > 0 {
		res.Rate = float64(res.Published) / d.Seconds()
	}
	if sequenced && uint64(res.Published)+1 > expect {
		res.SilentDrops += int(uint64(res.Published) + 1 - expect)
	}
	s := lat.Summary()
	res.P50Ms, res.P99Ms, res.MaxMs = benchMs(s.P50), benchMs(s.P99), benchMs(s.Max)
	res.Errors = run.errors
	return res
}

// publishLoop publishes until ctx ends, inside the window, paced at rate
// per second if rate > 0. Pacing catches up: a late tick publishes what
// the schedule says is due, so a starved publisher still averages rate.
func (r *msgRun) publishLoop(ctx context.Context, p msgPub, window chan struct{}, rate, _ int) {
	defer func() {
		if err := p.flush(); err != nil {
			r.fail(err)
		}
	}()
	var tick *time.Ticker
	start, sent := time.Now(), 0
	if rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
	}
	for {
		if tick != nil && sent >= int(time.Since(start).Seconds()*float64(rate)) {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			continue
		}
		sent++
		select {
		case <-window:
		default:
			if err := p.flush(); err != nil {
				r.fail(err)
			}
			select {
			case <-window:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		payload := make([]byte, msgPayload)
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if err := p.publish(ctx, payload); err != nil {
			if ctx.Err() != nil {
				r.mu.Lock()
				r.cut++
				r.mu.Unlock()
				return
			}
			r.fail(err)
			continue
		}
		r.mu.Lock()
		r.published++
		r.mu.Unlock()
		if tick != nil {
			if err := p.flush(); err != nil {
				r.fail(err)
			}
		}
	}
}

// natsPub publishes on one NATS connection, buffered.
type natsPub struct {
	c       *natsConn
	subject string
}

func (p natsPub) publish(_ context.Context, payload []byte) error {
	return p.c.pub(p.subject, payload, false)
}
func (p natsPub) flush() error { return p.c.flush() }

type natsSub struct{ c *natsConn }

func (s natsSub) next(context.Context) (msgEvent, error) {
	b, err := s.c.nextMsg()
	return msgEvent{payload: b}, err
}
