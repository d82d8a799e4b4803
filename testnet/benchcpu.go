package testnet

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPU accounting for the messaging phases. On this machine every system
// is CPU-bound while saturated, and the load of other work makes msgs/s
// swing by 2-3× between runs; the CPU time every process of a system
// (its servers and the load generator) spends per delivered message does
// not depend on what else runs, so the bench reports it beside msgs/s.

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

// cpuSample is the CPU time (user + system) of some processes.
type cpuSample struct {
	pids  []int
	ticks int64
	err   error
}

// sampleCPU reads the CPU time of pids and of this process.
func sampleCPU(pids []int) cpuSample {
	s := cpuSample{pids: pids}
	for _, pid := range append([]int{os.Getpid()}, pids...) {
		t, err := processTicks(pid)
		if err != nil {
			s.err = err
			return s
		}
		s.ticks += t
	}
	return s
}

// microsPerMsg is the CPU time spent since s per delivered message, in
// µs; 0 when it could not be read.
func (s cpuSample) microsPerMsg(delivered int) float64 {
	end := sampleCPU(s.pids)
	if s.err != nil || end.err != nil || delivered == 0 {
		return 0
	}
	return float64(end.ticks-s.ticks) * 1e6 / clockTicks / float64(delivered)
}

// processTicks is utime + stime of pid from /proc/<pid>/stat.
func processTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatTicks(string(b))
}

// parseStatTicks reads fields 14 (utime) and 15 (stime) of a stat line;
// the command name (field 2) is in parentheses and may hold spaces.
func parseStatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: bad times %q %q", f[11], f[12])
	}
	return u + s, nil
}
