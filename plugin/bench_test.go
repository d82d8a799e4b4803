package plugin_test

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
)

// BenchmarkBeforeBanCreate is the cost a hook adds to the ban path: one
// Before with ban-policy installed (compiled, not interpreted), on the
// allow path (the request passes), measured per call with p50 and p99.
// Compare BenchmarkBeforeNoPlugin, the cost for a tenant with none.
func BenchmarkBeforeBanCreate(b *testing.B) { benchBefore(b, "ban-policy") }

// BenchmarkBeforeNoopPlugin is the floor: a plugin that allows at once
// (the SDK still decodes the input and encodes the answer).
func BenchmarkBeforeNoopPlugin(b *testing.B) { benchBefore(b, "testdata/noop") }

func benchBefore(b *testing.B, name string) {
	reg := newRegistry(b, "acme")
	rt, err := plugin.New(context.Background(), plugin.Config{Source: reg, Instances: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	install(b, rt, reg, "acme", "p", module(b, name, ""), false)
	reg.config("acme", "p", `{"max_seconds":86400,"projects":{"rocket":3600}}`)
	req := []byte(`{"player_id":"p1","reason":"aimbot detected","duration_seconds":3600,"project_id":"rocket"}`)
	ctx := context.Background()
	for range 100 { // warm the instance
		if _, err := rt.Before(ctx, hooks.BeforeBanCreate, admin, req); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := rt.Before(ctx, hooks.BeforeBanCreate, admin, req); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	// CPU time per call: on a shared machine, wall time also counts the
	// time other processes had the CPU.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(times)), "cpu-µs/op")
	reportPercentiles(b, times)
}

// cpuTime is this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBeforeNoPlugin: Before for a tenant without plugins.
func BenchmarkBeforeNoPlugin(b *testing.B) {
	reg := newRegistry(b, "acme")
	rt, err := plugin.New(context.Background(), plugin.Config{Source: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	req := []byte(`{"player_id":"p1","reason":"aimbot detected"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.Before(context.Background(), hooks.BeforeBanCreate, admin, req); err != nil {
			b.Fatal(err)
		}
	}
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(q float64) float64 { return float64(times[int(q*float64(len(times)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkBeforeRawPlugin is the floor below the SDK: a module written
// against the ABI directly, answering from static buffers.
func BenchmarkBeforeRawPlugin(b *testing.B) { benchBefore(b, "testdata/raw") }
