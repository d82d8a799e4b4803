package testnet

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"
)

// LinearizabilityChecker checks each generator's operations against its
// model with porcupine, partitioned by key. Illegal or Unknown (the
// checker timed out) fails. It writes porcupine's HTML visualisation,
// with the fault windows as annotations, to <OutDir>/<workload>.html.
type LinearizabilityChecker struct {
	// Timeout bounds porcupine per generator (default 60 s).
	Timeout time.Duration
}

// Name implements Checker.
func (*LinearizabilityChecker) Name() string { return "linearizability" }

// Check implements Checker.
func (c *LinearizabilityChecker) Check(_ context.Context, run *RunData) Result {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	res := Result{Checker: c.Name(), Verdict: Pass}
	checked := 0
	for _, g := range run.Generators {
		model := g.Model()
		if model == nil {
			continue
		}
		ops := PorcupineOps(run.Ops, g.Name())
		checked += len(ops)
		start := time.Now()
		verdict, info := porcupine.CheckOperationsVerbose(*model, ops, timeout)
		took := time.Since(start).Round(time.Millisecond)
		line := fmt.Sprintf("%s: %d operations: %s (checked in %s)", g.Name(), len(ops), verdict, took)
		if run.OutDir != "" {
			info.AddAnnotations(faultAnnotations(run.Windows))
			path := filepath.Join(run.OutDir, g.Name()+".html")
			if err := porcupine.VisualizePath(*model, info, path); err != nil {
				line += fmt.Sprintf("; visualisation failed: %v", err)
			} else {
				line += "; visualisation: " + path
			}
		}
		res.Details = append(res.Details, line)
		if verdict != porcupine.Ok {
			res.Verdict = Fail
			res.Details = append(res.Details, illegalKeys(*model, ops, timeout, 5)...)
		}
	}
	switch {
	case checked == 0:
		res.Verdict, res.Summary = NotApplicable, "no operations with a model"
	case res.Verdict == Pass:
		res.Summary = fmt.Sprintf("%d operations linearizable", checked)
	default:
		res.Summary = "history is NOT linearizable (or the check timed out)"
	}
	return res
}

// faultAnnotations turns fault windows into porcupine annotations on a
// "nemesis" row.
func faultAnnotations(ws []Window) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(ws))
	for _, w := range ws {
		details := w.Detail
		if w.Err != "" {
			details = joinErr(details, w.Err)
		}
		out = append(out, porcupine.Annotation{
			Tag: "nemesis", Start: w.Start, End: w.End,
			Description: w.Fault, Details: details,
			BackgroundColor: "#f7c6c6",
		})
	}
	return out
}

// illegalKeys rechecks each partition alone and describes up to limit
// that fail, with their operations, so the report names the culprit.
func illegalKeys(model porcupine.Model, ops []porcupine.Operation, timeout time.Duration, limit int) []string {
	if model.Partition == nil {
		return nil
	}
	single := model
	single.Partition = nil
	var out []string
	bad := 0
	for _, part := range model.Partition(ops) {
		if porcupine.CheckOperationsTimeout(single, part, timeout) == porcupine.Ok {
			continue
		}
		bad++
		if bad > limit {
			continue
		}
		out = append(out, "not linearizable:")
		for _, op := range part {
			desc := fmt.Sprintf("%v -> %v", op.Input, op.Output)
			if model.DescribeOperation != nil {
				desc = model.DescribeOperation(op.Input, op.Output)
			}
			out = append(out, fmt.Sprintf("  client %d [%.3fs, %.3fs] %s", op.ClientId,
				time.Duration(op.Call).Seconds(), time.Duration(op.Return).Seconds(), desc))
		}
	}
	if bad > limit {
		out = append(out, fmt.Sprintf("... and %d more keys", bad-limit))
	}
	return out
}
