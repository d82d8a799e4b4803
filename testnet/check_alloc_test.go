package testnet

import (
	"strings"
	"testing"
	"time"
)

// allocOp is one allocation attempt of a hand-made history, times in
// seconds.
func allocOp(key string, attempt int, call, ret float64, out AllocOutput) Entry {
	return Entry{Workload: AllocWorkloadName, Input: AllocInput{Key: key, Attempt: attempt}, Output: out,
		Call: int64(call * float64(time.Second)), Return: int64(ret * float64(time.Second)),
		Indeterminate: out.Outcome == OutUnknown}
}

func okAlloc(id, server string) AllocOutput {
	return AllocOutput{Outcome: OutOK, Allocation: id, Server: server}
}

func ret(server string, at float64) AllocReturn {
	return AllocReturn{Server: server, At: int64(at * float64(time.Second)), Why: "match", Acked: true}
}

// readsAll has every node hold every allocation of allocs (id -> server).
func readsAll(allocs map[string]string, nodes ...string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, n := range nodes {
		out[n] = map[string]string{}
		for id, s := range allocs {
			out[n][id] = s
		}
	}
	return out
}

// cleanAllocHistory: two servers, each allocated, returned, allocated
// again; one match's first attempt timed out and its retry on another node
// was answered with the same allocation (200); allocations of different
// servers overlap; an allocation answered just after a Ready it overlaps.
func cleanAllocHistory() AllocJudge {
	return AllocJudge{
		Ops: []Entry{
			allocOp("m1", 0, 1.0, 1.1, okAlloc("a1", "s1")),
			allocOp("m2", 0, 1.05, 1.2, okAlloc("a2", "s2")),
			allocOp("m3", 0, 1.3, 1.4, AllocOutput{Outcome: OutConflict, Code: "no_capacity"}),
			allocOp("m4", 0, 2.4, 10.4, AllocOutput{Outcome: OutUnknown}), // took effect after s1's Ready at 2.5
			allocOp("m4", 1, 10.5, 10.6, AllocOutput{Outcome: OutOK, Allocation: "a3", Server: "s1", Replay: true}),
			allocOp("m5", 0, 3.0, 3.1, okAlloc("a4", "s2")),
		},
		Returns: []AllocReturn{ret("s1", 0), ret("s2", 0), ret("s1", 2.5), ret("s2", 2.0)},
		Reads:   readsAll(map[string]string{"a1": "s1", "a2": "s2", "a3": "s1", "a4": "s2"}, "n1", "n2", "n3"),
	}
}

func TestAllocCheckerPassesCleanHistory(t *testing.T) {
	j := cleanAllocHistory()
	res := j.Judge()
	if res.Verdict != Pass {
		t.Fatalf("a clean history failed: %s", res)
	}
	for _, want := range []string{"5 matches", "4 allocations acknowledged on 2 servers", "1 answers were idempotent replays", "1 no_capacity"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary %q lacks %q", res.Summary, want)
		}
	}
}

// TestAllocCheckerFails doctors the clean history three ways; each must
// fail, naming what is wrong.
func TestAllocCheckerFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		doctor func(j *AllocJudge)
		want   string
	}{
		{"double allocation", func(j *AllocJudge) {
			// s2 allocated again at 4 s, with no Ready since a4.
			j.Ops = append(j.Ops, allocOp("m6", 0, 4.0, 4.1, okAlloc("a5", "s2")))
			for _, n := range j.Reads {
				n["a5"] = "s2"
			}
		}, "server s2 allocated twice without a return to ready: a4"},
		{"overlapping double allocation", func(j *AllocJudge) {
			// Two matches in flight at once both get s1.
			j.Ops = append(j.Ops, allocOp("m7", 0, 1.0, 1.15, okAlloc("a6", "s1")))
			for _, n := range j.Reads {
				n["a6"] = "s1"
			}
		}, "server s1 allocated twice without a return to ready: a1"},
		{"lost acknowledged allocation", func(j *AllocJudge) {
			delete(j.Reads["n2"], "a3")
			j.Reads["n3"]["a4"] = ""
		}, "n2: acknowledged allocation a3 (server s1) was not read"},
		{"allocation moved to another server", func(j *AllocJudge) {
			j.Reads["n1"]["a2"] = "s1"
		}, "n1: allocation a2 names server s1, but was acknowledged with s2"},
		{"one key, two allocations", func(j *AllocJudge) {
			// m4's retry answered with a different allocation on another
			// server: a second server for one match.
			j.Ops = append(j.Ops, allocOp("m4", 2, 10.7, 10.8, okAlloc("a9", "s2")))
			j.Returns = append(j.Returns, ret("s2", 10.0))
			for _, n := range j.Reads {
				n["a9"] = "s2"
			}
		}, "idempotency key m4 answered a3 (server s1) and a9 (server s2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := cleanAllocHistory()
			tc.doctor(&j)
			res := j.Judge()
			if res.Verdict != Fail {
				t.Fatalf("a doctored history (%s) passed: %s", tc.name, res)
			}
			if !strings.Contains(strings.Join(res.Details, "\n"), tc.want) {
				t.Fatalf("the failure does not say %q:\n%s", tc.want, res)
			}
			t.Logf("failed as it should: %s", res)
		})
	}
}

// TestAllocCheckerNothingToCheck: no allocation at all is N/A, not a pass.
func TestAllocCheckerNothingToCheck(t *testing.T) {
	if res := (&AllocJudge{}).Judge(); res.Verdict != NotApplicable {
		t.Fatalf("an empty history: %s", res)
	}
	j := AllocJudge{Ops: []Entry{allocOp("m1", 0, 1, 2, AllocOutput{Outcome: OutConflict, Code: "no_capacity"})}}
	if res := j.Judge(); res.Verdict != NotApplicable {
		t.Fatalf("a history without an acknowledged allocation: %s", res)
	}
}
