package pubsub

import (
	"slices"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func env(seq uint64) *cassnetv1.Envelope {
	return &cassnetv1.Envelope{Origin: "o", Epoch: 7, Seq: seq}
}

func seqs(envs []*cassnetv1.Envelope) []uint64 {
	var out []uint64
	for _, e := range envs {
		out = append(out, e.GetSeq())
	}
	return out
}

// TestOrderer feeds sequences of arrivals and checks what is delivered,
// what is dropped as a duplicate and which range is reported missing.
func TestOrderer(t *testing.T) {
	tests := []struct {
		name      string
		start     uint64
		arrivals  []uint64
		heads     []uint64 // head announcements, after the arrivals
		delivered []uint64
		dups      int
		missFrom  uint64 // 0: no gap
		missTo    uint64
	}{
		{name: "in order", start: 1, arrivals: []uint64{1, 2, 3}, delivered: []uint64{1, 2, 3}},
		{name: "swapped", start: 1, arrivals: []uint64{2, 1, 3}, delivered: []uint64{1, 2, 3}},
		{name: "reversed", start: 1, arrivals: []uint64{4, 3, 2, 1}, delivered: []uint64{1, 2, 3, 4}},
		{name: "duplicate delivered", start: 1, arrivals: []uint64{1, 1, 2, 2}, delivered: []uint64{1, 2}, dups: 2},
		{name: "duplicate held", start: 1, arrivals: []uint64{3, 3, 1}, delivered: []uint64{1}, dups: 1, missFrom: 2, missTo: 2},
		{name: "gap", start: 1, arrivals: []uint64{1, 2, 5, 6}, delivered: []uint64{1, 2}, missFrom: 3, missTo: 4},
		{name: "two gaps reports the first", start: 1, arrivals: []uint64{1, 3, 5}, delivered: []uint64{1}, missFrom: 2, missTo: 2},
		{name: "late start", start: 10, arrivals: []uint64{10, 9, 11}, delivered: []uint64{10, 11}, dups: 1},
		{name: "tail loss seen by head", start: 1, arrivals: []uint64{1, 2}, heads: []uint64{5}, delivered: []uint64{1, 2}, missFrom: 3, missTo: 5},
		{name: "stale head", start: 1, arrivals: []uint64{1, 2, 3}, heads: []uint64{2}, delivered: []uint64{1, 2, 3}},
	}
	now := time.Unix(100, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o orderer
			o.start(tt.start)
			var got []uint64
			dups := 0
			for _, s := range tt.arrivals {
				ready, res := o.offer(env(s), now)
				if res == offerDup {
					dups++
				}
				got = append(got, seqs(ready)...)
			}
			for _, h := range tt.heads {
				o.noteHead(h, now)
			}
			if !slices.Equal(got, tt.delivered) {
				t.Errorf("delivered %v, want %v", got, tt.delivered)
			}
			if dups != tt.dups {
				t.Errorf("dups %d, want %d", dups, tt.dups)
			}
			from, to, ok := o.missing()
			if ok != (tt.missFrom != 0) || from != tt.missFrom || to != tt.missTo {
				t.Errorf("missing = %d..%d (%v), want %d..%d", from, to, ok, tt.missFrom, tt.missTo)
			}
			if ok == o.gapSince.IsZero() {
				t.Errorf("gap clock %v with gap %v", o.gapSince, ok)
			}
		})
	}
}

func TestOrdererSkipAndDue(t *testing.T) {
	var o orderer
	o.start(1)
	t0 := time.Unix(100, 0)
	o.offer(env(1), t0)
	o.offer(env(4), t0)
	o.offer(env(5), t0.Add(time.Second)) // the clock starts at the first sight of the gap
	if o.due(t0.Add(100*time.Millisecond), 200*time.Millisecond) {
		t.Fatal("due before the hold expired")
	}
	if !o.due(t0.Add(200*time.Millisecond), 200*time.Millisecond) {
		t.Fatal("not due after the hold")
	}
	ready := o.skipTo(3, t0)
	if got := seqs(ready); !slices.Equal(got, []uint64{4, 5}) {
		t.Fatalf("after skip: %v", got)
	}
	if _, _, ok := o.missing(); ok || !o.gapSince.IsZero() {
		t.Fatal("gap still open after skip")
	}
	if _, res := o.offer(env(2), t0); res != offerDup {
		t.Fatalf("skipped seq accepted: %v", res)
	}
}

func TestOrdererHoldBound(t *testing.T) {
	var o orderer
	o.start(1)
	now := time.Unix(100, 0)
	for s := uint64(2); s < 2+maxHeld; s++ {
		if _, res := o.offer(env(s), now); res != offerHeld {
			t.Fatalf("seq %d: %v", s, res)
		}
	}
	if _, res := o.offer(env(2+maxHeld), now); res != offerOverflow {
		t.Fatalf("over the bound: %v", res)
	}
	ready, _ := o.offer(env(1), now)
	if len(ready) != maxHeld+1 {
		t.Fatalf("drained %d", len(ready))
	}
	if from, to, ok := o.missing(); !ok || from != 2+maxHeld || to != 2+maxHeld {
		t.Fatalf("the dropped one is not reported missing: %d..%d %v", from, to, ok)
	}
}

// TestOrdererLowestHeldAfterDrain checks the incremental lowest-held
// bookkeeping: after a drain the next gap is found, and an emptied hold
// reports no gap.
func TestOrdererLowestHeldAfterDrain(t *testing.T) {
	var o orderer
	o.start(1)
	now := time.Unix(0, 0)
	for _, s := range []uint64{9, 5, 6} {
		o.offer(env(s), now)
	}
	if from, to, ok := o.missing(); !ok || from != 1 || to != 4 {
		t.Fatalf("missing = %d..%d %v, want 1..4", from, to, ok)
	}
	for s := uint64(1); s <= 4; s++ {
		o.offer(env(s), now)
	}
	if from, to, ok := o.missing(); !ok || from != 7 || to != 8 {
		t.Fatalf("after the drain: missing = %d..%d %v, want 7..8", from, to, ok)
	}
	ready := o.skipTo(8, now)
	if got := seqs(ready); len(got) != 1 || got[0] != 9 {
		t.Fatalf("skipTo(8) released %v, want [9]", got)
	}
	if _, _, ok := o.missing(); ok {
		t.Fatal("gap reported with nothing held")
	}
	o.offer(env(12), now)
	if from, to, ok := o.missing(); !ok || from != 10 || to != 11 {
		t.Fatalf("new hold: missing = %d..%d %v, want 10..11", from, to, ok)
	}
}
