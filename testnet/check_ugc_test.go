package testnet

import (
	"strings"
	"testing"
)

func ugcOp(in UGCInput, out UGCOutput) Entry {
	return Entry{Workload: UGCWorkloadName, Input: in, Output: out, Indeterminate: out.Outcome == OutUnknown}
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// cleanUGCHistory: i1 created with an acknowledged upload v1 and an
// indeterminate one v2 that did publish; i2 created and deleted; i3's
// delete timed out (it may or may not be there); a failed create.
func cleanUGCHistory() UGCJudge {
	ops := []Entry{
		ugcOp(UGCInput{Op: UGCCreate}, UGCOutput{Outcome: OutOK, Item: "i1"}),
		ugcOp(UGCInput{Op: UGCCreate}, UGCOutput{Outcome: OutOK, Item: "i2"}),
		ugcOp(UGCInput{Op: UGCCreate}, UGCOutput{Outcome: OutOK, Item: "i3"}),
		ugcOp(UGCInput{Op: UGCCreate}, UGCOutput{Outcome: OutFail}),
		ugcOp(UGCInput{Op: UGCUpload, Item: "i1", Version: "v1", SHA256: shaA}, UGCOutput{Outcome: OutOK}),
		ugcOp(UGCInput{Op: UGCUpload, Item: "i1", Version: "v2", SHA256: shaB}, UGCOutput{Outcome: OutUnknown}),
		ugcOp(UGCInput{Op: UGCDelete, Item: "i2"}, UGCOutput{Outcome: OutOK}),
		ugcOp(UGCInput{Op: UGCDelete, Item: "i3"}, UGCOutput{Outcome: OutUnknown}),
	}
	reads := map[string]map[string]UGCItemRead{}
	for _, n := range []string{"n1", "n2", "n3"} {
		reads[n] = map[string]UGCItemRead{
			"i1": {Exists: true, Versions: map[string]UGCVerRead{"v1": {State: "published", SHA256: shaA}, "v2": {State: "published", SHA256: shaB}}},
			"i2": {},
			"i3": {Exists: true, Versions: map[string]UGCVerRead{}},
		}
	}
	return UGCJudge{Ops: ops, Reads: reads, Downloads: map[string]string{"v1": shaA, "v2": shaB}}
}

func TestUGCCheckerPassesCleanHistory(t *testing.T) {
	j := cleanUGCHistory()
	if got := j.Items(); strings.Join(got, ",") != "i1,i2,i3" {
		t.Fatalf("items %v", got)
	}
	if res := j.Judge(); res.Verdict != Pass {
		t.Fatalf("a clean history failed: %s", res)
	}
}

// TestUGCCheckerFailsDoctoredHistories: each rule, broken once.
func TestUGCCheckerFailsDoctoredHistories(t *testing.T) {
	for _, c := range []struct {
		name, want string
		doctor     func(j *UGCJudge)
	}{
		{"lost item", "acknowledged item i1 is missing on n2", func(j *UGCJudge) { j.Reads["n2"]["i1"] = UGCItemRead{} }},
		{"deleted item back", "i2, deleted with an acknowledgement, is still on n3", func(j *UGCJudge) {
			j.Reads["n3"]["i2"] = UGCItemRead{Exists: true}
		}},
		{"lost upload", "acknowledged upload v1 of item i1 is not listed on n1", func(j *UGCJudge) {
			delete(j.Reads["n1"]["i1"].Versions, "v1")
		}},
		{"acknowledged upload not published", "acknowledged upload v1 of item i1 is pending on n1", func(j *UGCJudge) {
			j.Reads["n1"]["i1"].Versions["v1"] = UGCVerRead{State: "pending", SHA256: shaA}
		}},
		{"wrong sha256 listed", "upload v1 has sha256", func(j *UGCJudge) {
			j.Reads["n1"]["i1"].Versions["v1"] = UGCVerRead{State: "published", SHA256: shaB}
		}},
		{"download differs", "published version v2 of item i1 downloads as error: HTTP 404", func(j *UGCJudge) {
			j.Downloads["v2"] = "error: HTTP 404"
		}},
		{"download missing", "published version v1 of item i1 (on n", func(j *UGCJudge) { delete(j.Downloads, "v1") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := cleanUGCHistory()
			c.doctor(&j)
			res := j.Judge()
			if res.Verdict != Fail || !strings.Contains(strings.Join(res.Details, "\n"), c.want) {
				t.Fatalf("verdict %s, want a failure naming %q: %s", res.Verdict, c.want, res)
			}
		})
	}
}
