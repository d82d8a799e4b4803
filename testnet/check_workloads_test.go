package testnet

import (
	"strings"
	"testing"
)

// msgHistory is a small pubsub run: three acknowledged publishes on topic
// t from origin o, epoch e, seq 1-3, after sub subscribed at 10.
func msgHistory() ([]Entry, SubLog) {
	var ops []Entry
	for i, p := range []string{"a", "b", "c"} {
		ops = append(ops, Entry{Workload: PubSubWorkloadName, Call: int64(100 + 10*i), Return: int64(105 + 10*i),
			Input:  PubInput{Topic: "t", Payload: p},
			Output: PubOutput{Outcome: OutOK, Origin: "o", Epoch: "e", Seq: uint64(i + 1)}})
	}
	msg := func(seq uint64, p string, at int64) SubEvent {
		return SubEvent{Kind: "message", At: at, Origin: "o", Epoch: "e", Seq: seq, Payload: p}
	}
	sub := SubLog{Name: "s", Topic: "t", Since: 10, Events: []SubEvent{
		{Kind: "connect", At: 10}, msg(1, "a", 106), msg(2, "b", 116), msg(3, "c", 126),
	}}
	return ops, sub
}

func TestMessagingCheckerPasses(t *testing.T) {
	ops, sub := msgHistory()
	if res := CheckMessaging(ops, []SubLog{sub}); res.Verdict != Pass {
		t.Fatalf("a clean history: %s", res)
	}
	// A gap naming the lost message, or a reset after its publish, covers it.
	gap := sub
	gap.Events = append([]SubEvent{sub.Events[0], sub.Events[1]},
		SubEvent{Kind: "gap", At: 117, Origin: "o", Epoch: "e", From: 2, To: 2}, sub.Events[3])
	if res := CheckMessaging(ops, []SubLog{gap}); res.Verdict != Pass {
		t.Fatalf("a gap covering seq 2: %s", res)
	}
	reset := sub
	reset.Events = []SubEvent{sub.Events[0], sub.Events[1], {Kind: "end", At: 111}, {Kind: "reset", At: 125}, sub.Events[3]}
	if res := CheckMessaging(ops, []SubLog{reset}); res.Verdict != Pass {
		t.Fatalf("a reset after seq 2 was published: %s", res)
	}
	// A message published before the subscriber subscribed need not arrive.
	late := sub
	late.Since, late.Events = 112, []SubEvent{{Kind: "connect", At: 112}, sub.Events[3]}
	if res := CheckMessaging(ops, []SubLog{late}); res.Verdict != Pass {
		t.Fatalf("a late subscriber: %s", res)
	}
}

// TestMessagingCheckerFails: doctored histories must fail.
func TestMessagingCheckerFails(t *testing.T) {
	ops, sub := msgHistory()
	ev := sub.Events
	for _, tc := range []struct {
		name   string
		events []SubEvent
		ops    []Entry
		want   string
	}{
		{"duplicate", []SubEvent{ev[0], ev[1], ev[2], ev[2], ev[3]}, ops, "duplicate"},
		{"reorder", []SubEvent{ev[0], ev[1], ev[3], ev[2]}, ops, "reordered"},
		{"silently missing", []SubEvent{ev[0], ev[1], ev[3]}, ops, "skipped silently"},
		{"tail lost", []SubEvent{ev[0], ev[1], ev[2]}, ops, "neither delivered nor covered"},
		{"reset before the publish", []SubEvent{ev[0], ev[1], {Kind: "reset", At: 101}, ev[2]}, ops, "neither delivered"},
		{"wrong gap", []SubEvent{ev[0], ev[1], {Kind: "gap", Origin: "o", Epoch: "other", From: 2, To: 2}, ev[3]}, ops, "skipped silently"},
		{"phantom", append(append([]SubEvent(nil), ev...), SubEvent{Kind: "message", Origin: "o", Epoch: "e", Seq: 4, Payload: "zzz"}), ops, "phantom"},
		{"wrong position", []SubEvent{ev[0], ev[1], ev[2], {Kind: "message", Origin: "o", Epoch: "e2", Seq: 1, Payload: "c"}}, ops, "acknowledged as"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sub
			s.Events = tc.events
			res := CheckMessaging(tc.ops, []SubLog{s})
			if res.Verdict != Fail || !strings.Contains(res.String(), tc.want) {
				t.Fatalf("want a failure mentioning %q, got %s", tc.want, res)
			}
		})
	}
}

func TestSessionJudge(t *testing.T) {
	nodes := []*Node{{Name: "n1"}, {Name: "n2"}}
	sessions := []SessionRef{{ID: "s1", Player: "p1"}, {ID: "s2", Player: "p2"}, {ID: "s3", Player: "p3"}, {ID: "s4", Player: "p4"}}
	ops := []Entry{
		{Input: SessionInput{Kind: SessRevoke, Player: "p1", Session: "s1"}, Output: SessionOutput{Outcome: OutOK}, Call: 10, Return: 20},
		{Input: SessionInput{Kind: SessBan, Player: "p2", Session: "s2"}, Output: SessionOutput{Outcome: OutOK}, Call: 10, Return: 20},
		{Input: SessionInput{Kind: SessRevoke, Player: "p3", Session: "s3"}, Output: SessionOutput{Outcome: OutUnknown}, Call: 10, Return: 20, Indeterminate: true},
		// A stale verify after the revoke: allowed, counted.
		{Input: SessionInput{Kind: SessVerify, Player: "p1", Session: "s1", On: "n2"}, Output: SessionOutput{Outcome: OutOK, Reason: "ok"}, Call: 30, Return: 31},
	}
	good := map[string]string{"s1": "revoked", "s2": "banned", "s3": "ok", "s4": "ok"}
	res := JudgeSessions(ops, sessions, nodes, []map[string]string{good, good})
	if res.Verdict != Pass || !strings.Contains(res.Summary, "1 verifies invoked after") {
		t.Fatalf("good answers: %s", res)
	}
	for name, bad := range map[string]map[string]string{
		"revocation lost":    {"s1": "ok", "s2": "banned", "s3": "ok", "s4": "ok"},
		"ban lost":           {"s1": "revoked", "s2": "ok", "s3": "ok", "s4": "ok"},
		"spurious rejection": {"s1": "revoked", "s2": "banned", "s3": "ok", "s4": "invalid"},
		"disagreement":       {"s1": "revoked", "s2": "banned", "s3": "revoked", "s4": "ok"},
	} {
		if res := JudgeSessions(ops, sessions, nodes, []map[string]string{good, bad}); res.Verdict != Fail {
			t.Errorf("%s: passed: %s", name, res)
		}
	}
}
