package testnet

import (
	"context"
	"fmt"
	"strings"
)

// Verdict is a checker's result.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "PASS"
	Fail Verdict = "FAIL"
	// NotApplicable: the checker had nothing to check. It is not a pass.
	NotApplicable Verdict = "N/A"
)

// Result is what one checker found.
type Result struct {
	Checker string  `json:"checker"`
	Verdict Verdict `json:"verdict"`
	// Summary is one line; Details are the evidence, most useful first.
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
}

// String formats the result for the report: a line, then the details.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %-4s %s", r.Checker, r.Verdict, r.Summary)
	for _, d := range r.Details {
		fmt.Fprintf(&b, "\n    %s", d)
	}
	return b.String()
}

// RunData is everything a checker may look at after a run.
type RunData struct {
	// Client reaches the nodes' REST APIs from the host.
	Client *Client
	// Nodes are the nodes that should be members at the end, all running.
	Nodes []*Node
	// Ops is the recorded history; Windows the faults.
	Ops     []Entry
	Windows []Window
	// Generators made the history; a generator's Model, if any, is what
	// its operations are checked against.
	Generators []Generator
	// Tenant is the ban workload's tenant.
	Tenant string
	// OutDir receives files a checker writes (the HTML visualisation).
	OutDir string
}

// Checker judges one property of a run. Checkers run one after the
// other, after the nemesis has healed everything.
type Checker interface {
	Name() string
	Check(ctx context.Context, run *RunData) Result
}

// DefaultCheckers are the five checkers of issue 7 plus the session
// checker, in the order they run: convergence first, because it waits
// for the cluster to settle, which the lost-write and session checkers
// then rely on; messaging before logs, because it needs the nodes
// running (the log checker stops them).
func DefaultCheckers() []Checker {
	return []Checker{
		&ConvergenceChecker{},
		&LostWriteChecker{},
		&SessionChecker{},
		&LinearizabilityChecker{},
		&MessagingChecker{},
		&LogChecker{},
	}
}
