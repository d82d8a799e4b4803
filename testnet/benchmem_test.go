package testnet

import (
	"os"
	"testing"
)

func TestParseVmHWM(t *testing.T) {
	kib, err := parseVmHWM("Name:\tcassnet\nVmPeak:\t  900 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100 kB\n")
	if err != nil || kib != 123456 {
		t.Fatalf("got %d, %v", kib, err)
	}
	for _, bad := range []string{"", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n", "VmHWM:\t-5 kB\n", "VmHWM:\n"} {
		if _, err := parseVmHWM(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// This process's own peak is readable and plausible.
func TestPeakRSSOfSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	mib := peakRSSMiB([]int{os.Getpid()})
	if mib < 1 || mib > 64*1024 {
		t.Fatalf("peak RSS %.1f MiB", mib)
	}
	if got := peakRSSMiB([]int{os.Getpid(), 1 << 30}); got != 0 {
		t.Fatalf("a missing process gave %.1f MiB, want 0", got)
	}
}

func FuzzParseVmHWM(f *testing.F) {
	f.Add("VmHWM:\t  123456 kB\n")
	f.Add("VmHWM: 1 kB 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		kib, err := parseVmHWM(s)
		if err == nil && kib < 0 {
			t.Fatalf("negative %d", kib)
		}
	})
}
