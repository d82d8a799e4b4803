package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// AllocChecker judges the allocation workload (issue 11):
//
//   - never twice between two returns to ready: a server's acknowledged
//     allocations (distinct allocation ids) must each be preceded by a
//     return to ready of their own. Sorted by when they were answered, the
//     k-th may be answered only after the server's game server had sent
//     Ready (first attempt) at least k times. Every Ready counts, even one
//     never acknowledged, and an allocation counts from the first attempt
//     of its idempotency key, so only a real double allocation fails it;
//   - one idempotency key, one allocation: every acknowledged answer to a
//     key names the same allocation and server;
//   - no acknowledged allocation lost: after convergence every node's
//     replica (GET .../allocations/{id}?stale) holds every acknowledged
//     allocation, on the same server. Allocations are retained 24 h, far
//     longer than any run.
//
// It stops the workload's simulated servers first, so the returns it
// judges are complete. It runs after the convergence checker.
type AllocChecker struct{}

// Name implements Checker.
func (*AllocChecker) Name() string { return "allocations" }

// Check implements Checker.
func (c *AllocChecker) Check(ctx context.Context, run *RunData) Result {
	var wl *AllocWorkload
	for _, g := range run.Generators {
		if a, ok := g.(*AllocWorkload); ok {
			wl = a
		}
	}
	if wl == nil {
		return Result{Checker: c.Name(), Verdict: NotApplicable, Summary: "the allocation workload did not run"}
	}
	wl.Stop()
	j := AllocJudge{Ops: run.Ops, Returns: wl.Returns(), Reads: map[string]map[string]string{}}
	if run.OutDir != "" {
		if err := writeReturns(filepath.Join(run.OutDir, "alloc-returns.jsonl"), j.Returns); err != nil {
			return Result{Checker: c.Name(), Verdict: Fail, Summary: "cannot write the returns to ready: " + err.Error()}
		}
	}
	for _, id := range j.Acked() {
		for _, n := range run.Nodes {
			server, err := readAllocation(ctx, run.Client, n, wl.Tenant, id)
			if err != nil {
				server = "error: " + err.Error()
			}
			if j.Reads[n.Name] == nil {
				j.Reads[n.Name] = map[string]string{}
			}
			j.Reads[n.Name][id] = server
		}
	}
	return j.Judge()
}

// writeReturns writes one return to ready a line.
func writeReturns(path string, rs []AllocReturn) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}

// readAllocation returns the server of allocation id in n's replica, or ""
// if n does not hold it.
func readAllocation(ctx context.Context, cl *Client, n *Node, tenant, id string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/tenants/"+tenant+"/allocations/"+id+"?stale", nil)
	if err != nil {
		return "", err
	}
	switch resp.Status {
	case http.StatusNotFound:
		return "", nil
	case http.StatusOK:
		var a struct {
			Server string `json:"server_id"`
		}
		return a.Server, resp.JSON(&a)
	}
	return "", &StatusError{Status: resp.Status, Body: string(resp.Body)}
}

// AllocJudge is what AllocChecker decides on, apart from the cluster.
type AllocJudge struct {
	// Ops is the history; only the allocation workload's entries count.
	Ops []Entry
	// Returns are the simulated servers' returns to ready.
	Returns []AllocReturn
	// Reads is, per node, the server each acknowledged allocation id has
	// in that node's replica ("" if missing).
	Reads map[string]map[string]string
}

// ackedAlloc is one allocation id some answer acknowledged.
type ackedAlloc struct {
	id, server, key string
	// call is the first attempt of its idempotency key; ret the first
	// acknowledged answer naming it.
	call, ret int64
}

// acked collects the acknowledged allocations and each key's answers.
func (j *AllocJudge) acked() (map[string]*ackedAlloc, map[string][]AllocOutput, map[string]int64) {
	first := map[string]int64{} // key -> first attempt's call
	for _, op := range j.Ops {
		if in, ok := op.Input.(AllocInput); ok && op.Workload == AllocWorkloadName {
			if c, seen := first[in.Key]; !seen || op.Call < c {
				first[in.Key] = op.Call
			}
		}
	}
	allocs := map[string]*ackedAlloc{}
	byKey := map[string][]AllocOutput{}
	for _, op := range j.Ops {
		in, ok1 := op.Input.(AllocInput)
		out, ok2 := op.Output.(AllocOutput)
		if !ok1 || !ok2 || op.Workload != AllocWorkloadName || out.Outcome != OutOK {
			continue
		}
		byKey[in.Key] = append(byKey[in.Key], out)
		a := allocs[out.Allocation]
		if a == nil {
			a = &ackedAlloc{id: out.Allocation, server: out.Server, key: in.Key, call: first[in.Key], ret: op.Return}
			allocs[out.Allocation] = a
		}
		a.ret = min(a.ret, op.Return)
	}
	return allocs, byKey, first
}

// Acked returns the acknowledged allocation ids, sorted.
func (j *AllocJudge) Acked() []string {
	allocs, _, _ := j.acked()
	ids := make([]string, 0, len(allocs))
	for id := range allocs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Judge checks the three properties.
func (j *AllocJudge) Judge() Result {
	res := Result{Checker: (&AllocChecker{}).Name(), Verdict: Pass}
	allocs, byKey, keys := j.acked()
	if len(keys) == 0 {
		res.Verdict, res.Summary = NotApplicable, "no allocation in the history"
		return res
	}
	fail := func(s string) {
		res.Verdict = Fail
		res.Details = appendCapped(res.Details, s)
	}
	// One key, one allocation.
	twoAnswers := 0
	for _, key := range sortedKeys(byKey) {
		outs := byKey[key]
		for _, o := range outs[1:] {
			if o.Allocation != outs[0].Allocation || o.Server != outs[0].Server {
				twoAnswers++
				fail(fmt.Sprintf("idempotency key %s answered %s (server %s) and %s (server %s)",
					key, outs[0].Allocation, outs[0].Server, o.Allocation, o.Server))
				break
			}
		}
	}
	// Never twice between two returns to ready.
	byServer := map[string][]*ackedAlloc{}
	for _, a := range allocs {
		byServer[a.server] = append(byServer[a.server], a)
	}
	returns := map[string][]int64{}
	for _, r := range j.Returns {
		returns[r.Server] = append(returns[r.Server], r.At)
	}
	doubles := 0
	for _, srv := range sortedKeys(byServer) {
		list := byServer[srv]
		slices.SortFunc(list, func(a, b *ackedAlloc) int { return cmpInt64(a.ret, b.ret) })
		rs := returns[srv]
		slices.Sort(rs)
		for k, a := range list {
			before := 0
			for _, at := range rs {
				if at < a.ret {
					before++
				}
			}
			if before < k+1 {
				doubles++
				prev := list[max(k-1, 0)]
				fail(fmt.Sprintf("server %s allocated twice without a return to ready: %s (key %s, %.3f-%.3f s) and %s (key %s, %.3f-%.3f s); only %d returns to ready before the latter's answer",
					srv, prev.id, prev.key, secsOf(prev.call), secsOf(prev.ret), a.id, a.key, secsOf(a.call), secsOf(a.ret), before))
				break
			}
		}
	}
	// No acknowledged allocation lost.
	lost := 0
	for _, node := range sortedKeys(j.Reads) {
		got := j.Reads[node]
		for _, id := range sortedKeys(allocs) {
			a := allocs[id]
			switch s, ok := got[id]; {
			case !ok:
				lost++
				fail(fmt.Sprintf("%s: acknowledged allocation %s (server %s) was not read", node, id, a.server))
			case s == "":
				lost++
				fail(fmt.Sprintf("%s: acknowledged allocation %s (server %s, key %s) is missing", node, id, a.server, a.key))
			case s != a.server:
				lost++
				fail(fmt.Sprintf("%s: allocation %s names server %s, but was acknowledged with %s", node, id, s, a.server))
			}
		}
	}
	if len(j.Reads) == 0 && len(allocs) > 0 {
		fail("no node's allocations were read")
	}
	replays, noCap, unknown := 0, 0, 0
	for _, op := range j.Ops {
		if out, ok := op.Output.(AllocOutput); ok && op.Workload == AllocWorkloadName {
			switch {
			case out.Replay:
				replays++
			case out.Code == "no_capacity":
				noCap++
			case out.Outcome == OutUnknown:
				unknown++
			}
		}
	}
	res.Summary = fmt.Sprintf("%d matches, %d allocations acknowledged on %d servers (%d answers were idempotent replays), %d no_capacity, %d indeterminate attempts, %d returns to ready; %d double allocations, %d keys with two answers, %d lost reads over %d nodes",
		len(keys), len(allocs), len(byServer), replays, noCap, unknown, len(j.Returns), doubles, twoAnswers, lost, len(j.Reads))
	if len(allocs) == 0 && res.Verdict == Pass {
		res.Verdict = NotApplicable
		res.Summary = "no allocation was acknowledged: " + res.Summary
	}
	return res
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func secsOf(ns int64) float64 { return float64(ns) / 1e9 }
