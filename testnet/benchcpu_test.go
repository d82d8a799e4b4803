package testnet

import (
	"os"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	line := "1234 (cass net) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	got, err := parseStatTicks(line)
	if err != nil || got != 325 {
		t.Fatalf("parseStatTicks = %d, %v; want 325", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1", "1 x S 1 2 3 4 5 6 7 8 9 10 11 12 13", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b 0 0"} {
		if _, err := parseStatTicks(bad); err == nil {
			t.Errorf("parseStatTicks(%q) accepted", bad)
		}
	}
	if _, err := processTicks(os.Getpid()); err != nil {
		t.Fatalf("own stat: %v", err)
	}
}
