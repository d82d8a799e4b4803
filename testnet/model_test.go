package testnet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// hop builds one history entry of the ban workload; times are in
// seconds.
func hop(client int, call, ret float64, in BanInput, out BanOutput) Entry {
	return Entry{
		Workload: BanWorkloadName, Client: client, Input: in, Output: out,
		Call: int64(call * 1e9), Return: int64(ret * 1e9), Indeterminate: out.Outcome == OutUnknown,
	}
}

var (
	createP1 = BanInput{Kind: BanCreate, Player: "p1"}
	revokeP1 = BanInput{Kind: BanRevoke, Player: "p1", BanID: "b1"}
	getP1    = BanInput{Kind: BanGet, Player: "p1", BanID: "b1"}
	checkP1  = BanInput{Kind: BanCheck, Player: "p1"}
	ok       = BanOutput{Outcome: OutOK, BanID: "b1"}
	unknown  = BanOutput{Outcome: OutUnknown}
	banned   = BanOutput{Outcome: OutOK, Banned: true}
	free     = BanOutput{Outcome: OutOK, Banned: false}
)

func TestBanModel(t *testing.T) {
	cases := []struct {
		name string
		ops  []Entry
		want porcupine.CheckResult
	}{
		{"create then check sees it", []Entry{
			hop(0, 0, 1, createP1, ok), hop(1, 2, 3, checkP1, banned)}, porcupine.Ok},
		{"concurrent check may miss it", []Entry{
			hop(0, 0, 2, createP1, ok), hop(1, 1, 3, checkP1, free)}, porcupine.Ok},
		{"acknowledged create lost", []Entry{
			hop(0, 0, 1, createP1, ok), hop(1, 2, 3, checkP1, free)}, porcupine.Illegal},
		{"stale read after revoke", []Entry{
			hop(0, 0, 1, createP1, ok), hop(0, 2, 3, revokeP1, BanOutput{Outcome: OutOK}),
			hop(1, 4, 5, getP1, BanOutput{Outcome: OutOK, Revoked: false})}, porcupine.Illegal},
		{"revoke lost after a read saw it", []Entry{
			hop(0, 0, 1, createP1, ok), hop(0, 2, 3, revokeP1, BanOutput{Outcome: OutOK}),
			hop(1, 4, 5, getP1, BanOutput{Outcome: OutOK, Revoked: true}),
			hop(1, 6, 7, checkP1, banned)}, porcupine.Illegal},
		{"409 before any revoke is illegal", []Entry{
			hop(0, 0, 1, createP1, ok), hop(1, 2, 3, revokeP1, BanOutput{Outcome: OutConflict})}, porcupine.Illegal},
		{"409 after an indeterminate revoke is legal", []Entry{
			hop(0, 0, 1, createP1, ok), hop(0, 2, 3, revokeP1, unknown),
			hop(1, 4, 5, revokeP1, BanOutput{Outcome: OutConflict})}, porcupine.Ok},
		{"404 on revoke of an acknowledged ban", []Entry{
			hop(0, 0, 1, createP1, ok), hop(1, 2, 3, revokeP1, BanOutput{Outcome: OutNotFound})}, porcupine.Illegal},
		{"indeterminate create that never happened", []Entry{
			hop(0, 0, 1, createP1, unknown), hop(1, 2, 3, checkP1, free), hop(1, 4, 5, checkP1, free)}, porcupine.Ok},
		{"indeterminate create that happened late", []Entry{
			hop(0, 0, 1, createP1, unknown), hop(1, 2, 3, checkP1, free), hop(1, 4, 5, checkP1, banned)}, porcupine.Ok},
		{"indeterminate create cannot unhappen", []Entry{
			hop(0, 0, 1, createP1, unknown), hop(1, 2, 3, checkP1, banned), hop(1, 4, 5, checkP1, free)}, porcupine.Illegal},
		{"definite failure must not appear", []Entry{
			hop(0, 0, 1, createP1, BanOutput{Outcome: OutFail}), hop(1, 2, 3, checkP1, banned)}, porcupine.Illegal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := porcupine.CheckOperationsTimeout(BanModel, PorcupineOps(tc.ops, BanWorkloadName), 10*time.Second)
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestWrongModelIsCaught: a deliberately wrong model (revokes do nothing)
// must reject a correct history, or the checker proves nothing.
func TestWrongModelIsCaught(t *testing.T) {
	wrong := BanModel
	wrong.Step = func(state, input, output any) (bool, any) {
		in := input.(BanInput)
		if in.Kind == BanRevoke {
			return true, state // wrong: a revoke changes nothing
		}
		return banStep(state.(banState), in, output.(BanOutput))
	}
	history := []Entry{
		hop(0, 0, 1, createP1, ok), hop(0, 2, 3, revokeP1, BanOutput{Outcome: OutOK}),
		hop(1, 4, 5, checkP1, free),
	}
	ops := PorcupineOps(history, BanWorkloadName)
	if got := porcupine.CheckOperationsTimeout(BanModel, ops, 10*time.Second); got != porcupine.Ok {
		t.Fatalf("right model: %s, want Ok", got)
	}
	if got := porcupine.CheckOperationsTimeout(wrong, ops, 10*time.Second); got != porcupine.Illegal {
		t.Fatalf("wrong model: %s, want Illegal", got)
	}
}

// TestLinearizabilityCheckerFails runs the checker itself on a broken
// history: it must fail, name the player, and write the HTML with the
// fault window annotated.
func TestLinearizabilityCheckerFails(t *testing.T) {
	dir := t.TempDir()
	run := &RunData{
		Ops: []Entry{
			hop(0, 0, 1, createP1, ok), hop(1, 2, 3, checkP1, free),
			hop(2, 0, 1, BanInput{Kind: BanCreate, Player: "p2"}, ok),
		},
		Windows:    []Window{{Fault: "partition-leader", Detail: "n1 (leader) isolated", Start: 1e9, End: 2e9}},
		Generators: []Generator{&BanWorkload{}},
		OutDir:     dir,
	}
	res := (&LinearizabilityChecker{Timeout: 10 * time.Second}).Check(context.Background(), run)
	if res.Verdict != Fail {
		t.Fatalf("verdict %s, want FAIL: %s", res.Verdict, res)
	}
	if !strings.Contains(res.String(), "check p1 -> banned=false") || strings.Contains(res.String(), "p2") {
		t.Errorf("the failure should name p1's operations only:\n%s", res)
	}
	html, err := os.ReadFile(filepath.Join(dir, BanWorkloadName+".html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "partition-leader") {
		t.Error("visualisation lacks the fault annotation")
	}
}
