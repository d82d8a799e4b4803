package supervisor

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIdleServers measures what the supervisor itself costs with 200
// idle servers (sh exec'ing sleep): each iteration is one second of wall
// time, over which the supervisor's process CPU (user+sys, from
// getrusage) is measured; memory is the Go heap in use and the test
// process's RSS. Run: go test -run '^$' -bench IdleServers -benchtime 10x ./supervisor
func BenchmarkIdleServers(b *testing.B) {
	const servers = 200
	bin := b.TempDir()
	s, err := New(Config{Dir: b.TempDir(), Allow: []string{bin}})
	if err != nil {
		b.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close(context.Background())
		}
	}()
	cmd := bin + "/idle.sh"
	if err := os.WriteFile(cmd, []byte("#!/bin/sh\necho up\nexec sleep 100000\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	for i := 0; i < servers; i++ {
		if _, err := s.Start(context.Background(), Spec{ServerID: "idle-" + strconv.Itoa(i), Command: []string{cmd},
			Ports: []PortSpec{{Name: "game", Protocol: "udp", Range: "21000-22999"}}}); err != nil {
			b.Fatal(err)
		}
	}
	startMS := float64(time.Since(began).Milliseconds()) / servers
	for _, st := range s.List() {
		if st.State != StateRunning {
			b.Fatalf("%+v", st)
		}
	}
	time.Sleep(2 * sampleEvery) // a sample or two in
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	c0, t0 := cpu(), time.Now()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Second)
	}
	elapsed := time.Since(t0)
	used := cpu() - c0
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(startMS, "start-ms/server")
	b.ReportMetric(float64(used)/float64(elapsed)*100, "cpu-%")
	b.ReportMetric(float64(after.HeapInuse-min(before.HeapInuse, after.HeapInuse))/(1<<20), "heap-MiB")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	if v, ok := vmRSS(); ok {
		b.ReportMetric(float64(v)/(1<<20), "rss-MiB")
	}
	// Stopping all 200 (SIGTERM; sleep dies of it) as a node shutdown does.
	began = time.Now()
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	closed = true
	b.ReportMetric(float64(time.Since(began).Milliseconds()), "close-all-ms")
}

func vmRSS() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10, err == nil
		}
	}
	return 0, false
}
