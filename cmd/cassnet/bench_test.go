package main

import (
	"testing"
	"time"
)

// TestBenchPhases: --phases all keeps every phase as its own flag set it;
// a list turns off the phases it does not name; a named phase still obeys
// its own flag; an unknown name is an error.
func TestBenchPhases(t *testing.T) {
	base := benchFlags{messaging: 10 * time.Second, verify: true, kills: 10}
	for _, tc := range []struct {
		phases                 string
		noREST, verify         bool
		messaging              time.Duration
		kills                  int
		wantErr, messagingFlag bool
	}{
		{phases: "all", verify: true, messaging: 10 * time.Second, kills: 10},
		{phases: "verify", noREST: true, verify: true},
		{phases: "rest, failure", kills: 10},
		{phases: "rest,messaging,verify,failure", verify: true, messaging: 10 * time.Second, kills: 10},
		{phases: "messaging", noREST: true, messagingFlag: true},
		{phases: "verify,writes", wantErr: true},
		{phases: "", wantErr: true},
	} {
		f := base
		f.phases = tc.phases
		if tc.messagingFlag {
			f.messaging = 0 // --messaging 0 --phases messaging: still off
		}
		noREST, err := f.applyPhases()
		if (err != nil) != tc.wantErr {
			t.Fatalf("--phases %q: error %v", tc.phases, err)
		}
		if err != nil {
			continue
		}
		if noREST != tc.noREST || f.verify != tc.verify || f.messaging != tc.messaging || f.kills != tc.kills {
			t.Errorf("--phases %q: noREST %v verify %v messaging %v kills %d", tc.phases, noREST, f.verify, f.messaging, f.kills)
		}
	}
}
