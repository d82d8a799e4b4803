package state_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state"
)

// BenchmarkApplyBan is one CreateBan (with an expiry, so it is indexed for
// pruning) applied to a state holding 100k bans, as the FSM goroutine
// does it: decode, validate, route, apply, prune, audit, commit.
func BenchmarkApplyBan(b *testing.B) {
	f, _ := consensus.NewFSM(state.New().Modules(), nil)
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	enc := func(i int, op *cassnetv1.Command) *raft.Log {
		op.Version, op.Actor, op.TimeUnixNano = consensus.CommandVersion, "operator:0123456789abcdef", epoch.Add(time.Duration(i)*time.Millisecond).UnixNano()
		d, _ := consensus.EncodeCommand(op)
		return &raft.Log{Index: uint64(i + 1), Data: d}
	}
	f.Apply(enc(0, &cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "bench"}}}))
	const prefill = 100_000
	logs := make([]*raft.Log, b.N+prefill)
	for i := range logs {
		logs[i] = enc(i+1, &cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
			Id: fmt.Sprintf("ban_%016x", i), Tenant: "bench", PlayerId: fmt.Sprintf("p%d", i), Reason: "x", DurationSeconds: 3600}}})
	}
	for i := 0; i < prefill; i++ {
		f.Apply(logs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := f.Apply(logs[prefill+i]).(*consensus.ApplyResult); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkGCWithBans is one full garbage collection of a node's heap
// holding 200k bans (half of them expiring, so indexed for pruning): the
// marking every GC cycle repeats while the node allocates for other work,
// such as messaging. It also reports the heap objects the state holds.
func BenchmarkGCWithBans(b *testing.B) {
	f, _ := consensus.NewFSM(state.New().Modules(), nil)
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	apply := func(i int, op *cassnetv1.Command) {
		op.Version, op.Actor, op.TimeUnixNano = consensus.CommandVersion, "operator:0123456789abcdef", epoch.Add(time.Duration(i)*time.Millisecond).UnixNano()
		d, _ := consensus.EncodeCommand(op)
		if r := f.Apply(&raft.Log{Index: uint64(i + 1), Data: d}).(*consensus.ApplyResult); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	apply(0, &cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "bench"}}})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const bans = 200_000
	for i := 1; i <= bans; i++ {
		apply(i, &cassnetv1.Command{Op: &cassnetv1.Command_CreateBan{CreateBan: &cassnetv1.CreateBan{
			Id: fmt.Sprintf("ban_%016x", i), Tenant: "bench", PlayerId: fmt.Sprintf("c%d-%d", i%64, i),
			Reason: "cassnet bench: automated load test ban, safe to ignore", DurationSeconds: int64(i%2) * 86400}}})
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/bans, "objects/ban")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/bans, "bytes/ban")
	runtime.KeepAlive(f)
}
