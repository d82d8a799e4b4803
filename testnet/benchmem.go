package testnet

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory accounting for the bench: the peak resident set (VmHWM) of a
// system's server processes, so that a change trading memory for CPU,
// such as the collector's target, shows its cost in the same table.

// peakRSSMiB is the largest VmHWM of pids, in MiB; 0 if any could not be
// read (a process gone, or no /proc).
func peakRSSMiB(pids []int) float64 {
	var peak int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0
		}
		kib, err := parseVmHWM(string(b))
		if err != nil {
			return 0
		}
		peak = max(peak, kib)
	}
	return float64(peak) / 1024
}

// parseVmHWM reads the "VmHWM:  123456 kB" line of /proc/<pid>/status.
func parseVmHWM(status string) (kib int64, err error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmHWM %q", v)
		}
		kib, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kib < 0 {
			return 0, fmt.Errorf("status: VmHWM %q", v)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("status: no VmHWM line")
}
