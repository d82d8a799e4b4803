package testnet

import (
	"context"
	"sync"
	"testing"
	"time"
)

// seqPub hands every published message to the fake subscriber with the
// next sequence number; deliver chooses what the subscriber sees of it.
type seqPub struct {
	mu      sync.Mutex
	seq     uint64
	out     chan msgEvent
	deliver func(seq uint64) []msgEvent
}

func (p *seqPub) publish(ctx context.Context, payload []byte) error {
	p.mu.Lock()
	p.seq++
	evs := p.deliver(p.seq)
	p.mu.Unlock()
	for _, ev := range evs {
		ev.payload = payload
		// The send first: with the phase's context done and room in out,
		// a select between the two would sometimes refuse a message that
		// was already sequenced, which the check then counts as dropped.
		select {
		case p.out <- ev:
			continue
		default:
		}
		select {
		case p.out <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *seqPub) flush() error { return nil }

type chanSub chan msgEvent

func (s chanSub) next(ctx context.Context) (msgEvent, error) {
	select {
	case ev := <-s:
		return ev, nil
	case <-ctx.Done():
		return msgEvent{}, ctx.Err()
	}
}

// TestMsgPhaseCountsDeliveryFaults: the delivery check of the messaging
// bench counts what it exists to count. A clean stream has no drop and
// no duplicate; a message delivered again after a later one is a
// duplicate; a message neither delivered nor covered by a gap is a silent
// drop; one covered by a gap is gapped, not dropped.
func TestMsgPhaseCountsDeliveryFaults(t *testing.T) {
	tests := []struct {
		name                string
		deliver             func(seq uint64) []msgEvent
		dups, drops, gapped int
	}{
		{"clean", func(seq uint64) []msgEvent { return []msgEvent{{seq: seq}} }, 0, 0, 0},
		{"message 5 twice", func(seq uint64) []msgEvent {
			if seq == 6 {
				return []msgEvent{{seq: 6}, {seq: 5}}
			}
			return []msgEvent{{seq: seq}}
		}, 1, 0, 0},
		// As many events arrive as were published, so only the sequence
		// numbers tell (and the phase does not wait for the missing one).
		{"message 5 lost, 6 twice", func(seq uint64) []msgEvent {
			switch seq {
			case 5:
				return nil
			case 6:
				return []msgEvent{{seq: 6}, {seq: 6}}
			}
			return []msgEvent{{seq: seq}}
		}, 1, 1, 0},
		{"message 5 reported", func(seq uint64) []msgEvent {
			if seq == 5 {
				return []msgEvent{{gap: true, from: 5, to: 5}}
			}
			return []msgEvent{{seq: seq}}
		}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan msgEvent, 1<<16)
			pub := &seqPub{out: ch, deliver: tt.deliver}
			res := runMsgPhase(context.Background(), []msgPub{pub}, chanSub(ch), 200*time.Millisecond, 2000, true, nil)
			if res.Published < 10 {
				t.Fatalf("only %d published", res.Published)
			}
			if res.Duplicates != tt.dups || res.SilentDrops != tt.drops || res.Gapped != tt.gapped {
				t.Fatalf("duplicates %d, silent drops %d, gapped %d; want %d, %d, %d (%+v)",
					res.Duplicates, res.SilentDrops, res.Gapped, tt.dups, tt.drops, tt.gapped, res)
			}
		})
	}
}
