package streamclient

import (
	"fmt"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// TestAcknowledgedRun: one published reply with count finishes every
// publish of the run, each with its own seq and the id the node gives it;
// a plain reply (count 0) finishes only its own ref.
func TestAcknowledgedRun(t *testing.T) {
	c := &Conn{q: newOutQueue()}
	c.q.base, c.q.nextRef = 10, 9
	pds := map[uint64]*Pending{}
	for ref := uint64(10); ref <= 14; ref++ {
		pds[ref] = &Pending{done: make(chan struct{})}
		if got := c.q.addPending(pds[ref]); got != ref {
			t.Fatalf("addPending gave ref %d, want %d", got, ref)
		}
	}
	c.acknowledged(&cassnetv1.StreamPublished{Ref: 10, Id: "n1:00000000000000ab:7", Origin: "n1", Epoch: "00000000000000ab", Seq: 7, Count: 3})
	c.acknowledged(&cassnetv1.StreamPublished{Ref: 14, Id: "n1:00000000000000ab:11", Origin: "n1", Epoch: "00000000000000ab", Seq: 11})
	for ref, seq := range map[uint64]uint64{10: 7, 11: 8, 12: 9, 14: 11} {
		select {
		case <-pds[ref].Done():
		default:
			t.Fatalf("ref %d not finished", ref)
		}
		want := fmt.Sprintf("n1:00000000000000ab:%d", seq)
		if res, err := pds[ref].Wait(t.Context()); err != nil || res.Seq != seq || res.ID != want || res.Epoch != "00000000000000ab" {
			t.Fatalf("ref %d: %+v %v, want seq %d id %s", ref, res, err, seq, want)
		}
	}
	select {
	case <-pds[13].Done():
		t.Fatal("ref 13 finished by acknowledgements that did not cover it")
	default:
	}
	if left := c.q.allPending(); len(left) != 1 || left[0] != pds[13] {
		t.Fatalf("pending after the acknowledgements: %v", left)
	}
}
