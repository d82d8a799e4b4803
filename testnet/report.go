package testnet

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of one chaos run.
type Report struct {
	Seed     uint64        `json:"seed"`
	Mode     string        `json:"mode"` // "netns" or "loopback"
	Nodes    int           `json:"nodes"`
	Clients  int           `json:"clients"`
	Duration time.Duration `json:"duration"`
	Elapsed  time.Duration `json:"elapsed"`
	// Faults are the faults asked for; Unavailable says why some of
	// them could not run here.
	Faults []string `json:"faults"`
	// Workloads are the generators that ran (bans, sessions, pubsub).
	Workloads   []string          `json:"workloads"`
	Unavailable map[string]string `json:"unavailable,omitempty"`
	Windows     []Window          `json:"windows"`
	// Ops counts recorded operations by "workload kind outcome"; Dropped
	// counts unrecorded (failed) reads by workload.
	Ops     map[string]int `json:"ops"`
	Dropped map[string]int `json:"dropped"`
	// LongestWriteGap is the longest stretch, from the first to the last
	// acknowledged write, with no write acknowledged: how long the worst
	// fault made the cluster unavailable. GapStart is when it began.
	LongestWriteGap time.Duration `json:"longest_write_gap"`
	GapStart        time.Duration `json:"gap_start"`
	Results         []Result      `json:"results"`
	OutDir          string        `json:"out_dir"`
}

// Passed reports whether no checker failed.
func (r *Report) Passed() bool {
	for _, res := range r.Results {
		if res.Verdict == Fail {
			return false
		}
	}
	return true
}

// Failed returns the names of the checkers that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Verdict == Fail {
			out = append(out, res.Checker)
		}
	}
	return out
}

// Injected returns the faults that were injected without error at
// least once.
func (r *Report) Injected() map[string]int {
	out := map[string]int{}
	for _, w := range r.Windows {
		if w.Err == "" {
			out[w.Fault]++
		}
	}
	return out
}

// countOps tallies ops for the report.
func countOps(ops []Entry) map[string]int {
	out := map[string]int{}
	for _, op := range ops {
		key := op.Workload
		switch in := op.Input.(type) {
		case BanInput:
			key += " " + in.Kind
		case SessionInput:
			key += " " + in.Kind
		case PubInput:
			key += " publish"
		}
		switch out2 := op.Output.(type) {
		case BanOutput:
			key += " " + out2.Outcome
		case SessionOutput:
			key += " " + out2.Outcome
			if out2.Reason != "" {
				key += " " + out2.Reason
			}
		case PubOutput:
			key += " " + out2.Outcome
		}
		if op.Detail != "" {
			key += " (" + op.Detail + ")"
		}
		out[key]++
	}
	return out
}

// writeGap finds the longest time between two consecutive
// acknowledged writes, and when it started.
func writeGap(ops []Entry) (gap, start time.Duration) {
	var acks []int64
	for _, op := range ops {
		if out, ok := op.Output.(BanOutput); ok && out.Outcome == OutOK {
			if in, ok := op.Input.(BanInput); ok && (in.Kind == BanCreate || in.Kind == BanRevoke) {
				acks = append(acks, op.Return)
			}
		}
		if out, ok := op.Output.(AllocOutput); ok && out.Outcome == OutOK && !out.Replay {
			acks = append(acks, op.Return)
		}
	}
	slices.Sort(acks)
	for i := 1; i < len(acks); i++ {
		if d := time.Duration(acks[i] - acks[i-1]); d > gap {
			gap, start = d, time.Duration(acks[i-1])
		}
	}
	return gap, start
}

// WriteText writes the human-readable summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASSED"
	if !r.Passed() {
		verdict = "FAILED (" + strings.Join(r.Failed(), ", ") + ")"
	}
	fmt.Fprintf(&b, "cassnet chaos run: %s\n", verdict)
	fmt.Fprintf(&b, "seed %d (rerun with --seed %d), %s network, %d nodes, %d clients, workload %s, took %s\n",
		r.Seed, r.Seed, r.Mode, r.Nodes, r.Clients, r.Duration, r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "faults asked for: %s\n", strings.Join(r.Faults, ","))
	fmt.Fprintf(&b, "workloads: %s\n", strings.Join(r.Workloads, ","))
	for _, name := range sortedKeys(r.Unavailable) {
		fmt.Fprintf(&b, "  unavailable here: %s: %s\n", name, r.Unavailable[name])
	}
	fmt.Fprintf(&b, "\nfault windows (seconds since start):\n")
	for _, win := range r.Windows {
		fmt.Fprintf(&b, "  %7.2f - %7.2f  %-17s %s", secs(win.Start), secs(win.End), win.Fault, win.Detail)
		if win.Err != "" {
			fmt.Fprintf(&b, "  [%s]", win.Err)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\noperations:\n")
	for _, k := range sortedKeys(r.Ops) {
		fmt.Fprintf(&b, "  %-52s %6d\n", k, r.Ops[k])
	}
	for _, k := range sortedKeys(r.Dropped) {
		fmt.Fprintf(&b, "  %-52s %6d  (failed reads, not recorded)\n", k+" dropped", r.Dropped[k])
	}
	fmt.Fprintf(&b, "  longest time without an acknowledged write: %.1fs, from %.2fs\n",
		r.LongestWriteGap.Seconds(), r.GapStart.Seconds())
	fmt.Fprintf(&b, "\ncheckers:\n")
	for _, res := range r.Results {
		fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(res.String(), "\n", "\n  "))
	}
	fmt.Fprintf(&b, "\nfiles in %s: report.txt, report.json, history.jsonl, <workload>.html, nodes/\n", r.OutDir)
	_, err := io.WriteString(w, b.String())
	return err
}

func secs(ns int64) float64 { return time.Duration(ns).Seconds() }

// save writes report.txt and report.json into r.OutDir.
func (r *Report) save() error {
	var txt strings.Builder
	if err := r.WriteText(&txt); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.OutDir, "report.txt"), []byte(txt.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.OutDir, "report.json"), js, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
