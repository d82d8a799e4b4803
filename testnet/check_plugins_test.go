package testnet

import (
	"bytes"
	"strings"
	"testing"
)

func plOp(call int64, in PluginInput, out PluginOutput, detail string) Entry {
	return Entry{Workload: PluginWorkloadName, Input: in, Output: out, Call: call, Return: call + 5,
		Indeterminate: out.Outcome == OutUnknown, Detail: detail}
}

var (
	plOK      = PluginOutput{Outcome: OutOK}
	plUnknown = PluginOutput{Outcome: OutUnknown}
	plRefused = PluginOutput{Outcome: OutFail, Code: "rejected_by_plugin"}
)

// cleanPluginHistory: the policy replaced twice (the last acknowledged is
// sha P2) and configured twice, one config unknown; extra uploaded,
// deleted, then an upload of unknown outcome that landed; bans: two
// acknowledged, one refused by the policy, one short ban timed out.
func cleanPluginHistory() PluginJudge {
	ops := []Entry{
		plOp(10, PluginInput{Op: PluginUpload, Plugin: PluginPolicy, SHA256: "p1"}, plOK, ""),
		plOp(20, PluginInput{Op: PluginConfig, Plugin: PluginPolicy, Config: `{"max_seconds":600}`}, plOK, ""),
		plOp(30, PluginInput{Op: PluginUpload, Plugin: PluginPolicy, SHA256: "p2"}, plOK, ""),
		plOp(40, PluginInput{Op: PluginConfig, Plugin: PluginPolicy, Config: `{"max_seconds":1200}`}, plOK, ""),
		plOp(50, PluginInput{Op: PluginConfig, Plugin: PluginPolicy, Config: `{"max_seconds":1800}`}, plUnknown, "timeout"),
		plOp(11, PluginInput{Op: PluginUpload, Plugin: PluginExtra, SHA256: "e1"}, plOK, ""),
		plOp(21, PluginInput{Op: PluginDelete, Plugin: PluginExtra}, plOK, ""),
		plOp(31, PluginInput{Op: PluginUpload, Plugin: PluginExtra, SHA256: "e2"}, plUnknown, "timeout"),
		plOp(12, PluginInput{Op: PluginBan, Player: "a"}, plOK, ""),
		plOp(13, PluginInput{Op: PluginBan, Player: "b"}, plOK, ""),
		plOp(14, PluginInput{Op: PluginBan, Player: "c", Short: true}, plRefused, "HTTP 422 rejected_by_plugin"),
		plOp(15, PluginInput{Op: PluginBan, Player: "d", Short: true}, plUnknown, "timeout"),
		plOp(16, PluginInput{Op: PluginBan, Player: "e"}, plUnknown, "timeout"),
	}
	j := PluginJudge{Ops: ops, Plugins: map[string]map[string]PluginRead{}, Banned: map[string]map[string]bool{}}
	for _, n := range []string{"n1", "n2", "n3"} {
		j.Plugins[n] = map[string]PluginRead{
			PluginPolicy: {Exists: true, SHA256: "p2", Config: `{"max_seconds":1800}`},
			PluginExtra:  {Exists: true, SHA256: "e2", Config: `{}`},
		}
		j.Banned[n] = map[string]bool{"a": true, "b": true, "c": false, "d": false, "e": true}
	}
	return j
}

func TestPluginCheckerPassesCleanHistory(t *testing.T) {
	j := cleanPluginHistory()
	if got := strings.Join(j.Players(), ","); got != "a,b,c,d,e" {
		t.Fatalf("players %s", got)
	}
	if res := j.Judge(); res.Verdict != Pass {
		t.Fatalf("a clean history failed: %s", res)
	}
	// The last acknowledged config, rather than the unknown one, passes.
	j.Plugins["n2"][PluginPolicy] = PluginRead{Exists: true, SHA256: "p2", Config: `{ "max_seconds": 1200 }`}
	// Extra absent: the unknown upload did not land.
	j.Plugins["n2"][PluginExtra] = PluginRead{}
	j.Plugins["n1"][PluginExtra] = PluginRead{}
	j.Plugins["n3"][PluginExtra] = PluginRead{}
	if res := j.Judge(); res.Verdict != Pass {
		t.Fatalf("an acceptable alternative failed: %s", res)
	}
}

// TestPluginCheckerFailsDoctoredHistories: each rule, broken once.
func TestPluginCheckerFailsDoctoredHistories(t *testing.T) {
	for _, c := range []struct {
		name, want string
		doctor     func(j *PluginJudge)
	}{
		{"lost policy upload", "n2 serves plugin policy sha256 p1; the last acknowledged operation left sha256 p2", func(j *PluginJudge) {
			j.Plugins["n2"][PluginPolicy] = PluginRead{Exists: true, SHA256: "p1", Config: `{"max_seconds":1200}`}
		}},
		{"policy gone", "n1 serves plugin policy absent", func(j *PluginJudge) { j.Plugins["n1"][PluginPolicy] = PluginRead{} }},
		{"lost config", "n3 serves the policy's config {\"max_seconds\":600}", func(j *PluginJudge) {
			j.Plugins["n3"][PluginPolicy] = PluginRead{Exists: true, SHA256: "p2", Config: `{"max_seconds":600}`}
		}},
		{"deleted extra back", "n1 serves plugin extra sha256 e1", func(j *PluginJudge) {
			j.Plugins["n1"][PluginExtra] = PluginRead{Exists: true, SHA256: "e1"}
		}},
		{"acknowledged extra upload lost", "n2 serves plugin extra absent; the last acknowledged operation left sha256 e3", func(j *PluginJudge) {
			j.Ops = append(j.Ops, plOp(60, PluginInput{Op: PluginUpload, Plugin: PluginExtra, SHA256: "e3"}, plOK, ""))
			for _, n := range []string{"n1", "n3"} {
				j.Plugins[n][PluginExtra] = PluginRead{Exists: true, SHA256: "e3"}
			}
			j.Plugins["n2"][PluginExtra] = PluginRead{}
		}},
		{"refused ban in the state", "ban of c, whose reason the policy refuses, is on n2", func(j *PluginJudge) { j.Banned["n2"]["c"] = true }},
		{"unknown short ban in the state", "ban of d, whose reason the policy refuses, is on n3", func(j *PluginJudge) { j.Banned["n3"]["d"] = true }},
		{"short ban acknowledged", "ban of x with a reason the policy refuses was acknowledged", func(j *PluginJudge) {
			j.Ops = append(j.Ops, plOp(70, PluginInput{Op: PluginBan, Player: "x", Short: true}, plOK, ""))
		}},
		{"refused but not by the plugin", "ban of y was refused (HTTP 422 invalid) but not by the plugin", func(j *PluginJudge) {
			j.Ops = append(j.Ops, plOp(71, PluginInput{Op: PluginBan, Player: "y", Short: true}, PluginOutput{Outcome: OutFail, Code: "invalid"}, "HTTP 422 invalid"))
		}},
		{"acknowledged ban lost", "acknowledged ban of b is missing on n1", func(j *PluginJudge) { j.Banned["n1"]["b"] = false }},
		{"acknowledged ban unread", "the ban of a could not be read on n3", func(j *PluginJudge) { delete(j.Banned["n3"], "a") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			j := cleanPluginHistory()
			c.doctor(&j)
			res := j.Judge()
			if res.Verdict != Fail || !strings.Contains(strings.Join(res.Details, "\n"), c.want) {
				t.Fatalf("verdict %s, want a failure naming %q: %s", res.Verdict, c.want, res)
			}
		})
	}
}

// TestWithCustomSection: the appended section is a well-formed custom
// section (id 0, LEB128 size, name) and changes the bytes.
func TestWithCustomSection(t *testing.T) {
	mod := []byte("\x00asm\x01\x00\x00\x00")
	got := WithCustomSection(mod, "chaos-1")
	want := append(bytes.Clone(mod), 0, 9, 7, 'c', 'h', 'a', 'o', 's', '-', '1', 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
	if long := WithCustomSection(mod, strings.Repeat("x", 200)); long[9] != 0xcb || long[10] != 0x01 || long[11] != 0xc8 {
		t.Fatalf("LEB128 size of 203 (2 + 200 + 1): % x", long[8:12])
	}
}
