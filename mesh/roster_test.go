package mesh

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func testNode(t *testing.T, name string) *memberlist.Node {
	t.Helper()
	b, err := EncodeMeta(Meta{Name: name, ID: "id-" + name, Role: RoleServer})
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: name, Addr: net.ParseIP("10.0.0.1"), Port: 7946, Meta: b}
}

func newTestRoster(notified *int) *roster {
	return newRoster(Member{Meta: Meta{Name: "self", ID: "id-self"}, Status: StatusAlive}, testLogger(), func() { *notified++ })
}

func TestRosterStatusTransitions(t *testing.T) {
	var n int
	r := newTestRoster(&n)
	b := testNode(t, "b")
	r.join(b)
	if got, _ := r.get("b"); got.Status != StatusAlive || got.ID != "id-b" || got.GossipAddr != "10.0.0.1:7946" {
		t.Fatalf("after join: %+v", got)
	}
	if r.live.Load() != 2 {
		t.Fatalf("live = %d", r.live.Load())
	}

	r.suspectFromLog("Suspect b has failed, no acks received")
	if got, _ := r.get("b"); got.Status != StatusSuspect {
		t.Fatalf("after failed probe: %v", got.Status)
	}
	r.ackedBy("b")
	if got, _ := r.get("b"); got.Status != StatusAlive {
		t.Fatalf("after ack: %v", got.Status)
	}
	r.suspectFromLog("Suspect b has failed, no acks received")
	r.expire(time.Now().Add(time.Minute), time.Second, time.Hour)
	if got, _ := r.get("b"); got.Status != StatusAlive {
		t.Fatalf("suspicion did not expire: %v", got.Status)
	}

	r.down(b)
	if got, _ := r.get("b"); got.Status != StatusFailed {
		t.Fatalf("down without intent: %v", got.Status)
	}
	if r.live.Load() != 1 {
		t.Fatalf("live = %d", r.live.Load())
	}
	if got := r.addrs(StatusFailed); len(got) != 1 {
		t.Fatalf("failed addrs %v", got)
	}
	r.join(b)
	if got, _ := r.get("b"); got.Status != StatusAlive {
		t.Fatalf("rejoin: %v", got.Status)
	}
	if n == 0 {
		t.Fatal("no change notifications")
	}
}

func TestRosterLeaveIntentEitherOrder(t *testing.T) {
	var n int
	r := newTestRoster(&n)
	b, c := testNode(t, "b"), testNode(t, "c")
	r.join(b)
	r.join(c)

	// Intent first, then memberlist's NotifyLeave.
	if !r.leaveIntent("b", "id-b") {
		t.Fatal("intent not news")
	}
	if r.leaveIntent("b", "id-b") {
		t.Fatal("duplicate intent is news (would be re-gossiped forever)")
	}
	r.down(b)
	if got, _ := r.get("b"); got.Status != StatusLeft {
		t.Fatalf("b: %v, want left", got.Status)
	}

	// NotifyLeave first, then the intent.
	r.down(c)
	if got, _ := r.get("c"); got.Status != StatusFailed {
		t.Fatalf("c: %v", got.Status)
	}
	if !r.leaveIntent("c", "id-c") {
		t.Fatal("late intent not news")
	}
	if got, _ := r.get("c"); got.Status != StatusLeft {
		t.Fatalf("c: %v, want left", got.Status)
	}

	// An intent for another ID under a known name is ignored.
	d := testNode(t, "d")
	r.join(d)
	if r.leaveIntent("d", "someone-else") {
		t.Fatal("intent with wrong ID accepted")
	}
	r.down(d)
	if got, _ := r.get("d"); got.Status != StatusFailed {
		t.Fatalf("d: %v", got.Status)
	}

	// Forgetting after ReconnectTimeout, but never the local node.
	r.expire(time.Now().Add(2*time.Hour), time.Second, time.Hour)
	if ms := r.members(); len(ms) != 1 || ms[0].Name != "self" {
		t.Fatalf("after forget: %+v", ms)
	}
}

func TestRosterWarnsOnceAboutNameConflict(t *testing.T) {
	h := &recordHandler{}
	r := newRoster(Member{Meta: Meta{Name: "self", ID: "id-self"}, Status: StatusAlive}, slog.New(h), func() {})
	r.join(testNode(t, "b"))
	h.recs = nil

	impostor := testNode(t, "b")
	impostor.Meta, _ = EncodeMeta(Meta{Name: "b", ID: "other-id"})
	r.checkAlive(impostor)
	r.checkAlive(impostor)
	r.checkAlive(testNode(t, "b")) // the real b: no warning
	if len(h.recs) != 1 || h.recs[0].Level != slog.LevelWarn || !strings.Contains(h.recs[0].Message, "conflict") {
		t.Fatalf("records: %+v", h.recs)
	}
}
