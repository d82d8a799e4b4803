package state_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// The files testdata/first_release.{snap,hash} were written by the first
// release's consensus.State (the commit before the domain split) after
// applying goldenLog: its snapshot and its state hash. A node of this
// release must hash the same log to the same value, restore that snapshot
// to it, and write at state version 1 a snapshot with the same content, so
// that old and new nodes converge during a rolling upgrade.

// goldenLog must not change: the golden files depend on it.
func goldenLog() []*cassnetv1.Command {
	log := randomLog(5, 600)
	join, _ := joinTokenCmd("one", testEpoch.Add(48*time.Hour).Unix())
	extras := []*cassnetv1.Command{
		keyringCmd("install", bytes.Repeat([]byte{1}, 32)),
		keyringCmd("install", bytes.Repeat([]byte{2}, 16)),
		keyringCmd("use", bytes.Repeat([]byte{2}, 16)),
		join,
		authFailures("anonymous", "malformed", "", 4),
		setSessionTTL(7200),
		createTenant("zz"), createProject("zz", "g"),
		createBan("zz", "bz", "g", "pz", 60),
		createKey("zz", "00000000000000ff", identity.RoleGameServer, "g", testEpoch.Add(2*time.Hour).Unix()),
		revokeSession("zz", "sz", 0), revokePlayer("zz", "pz", "g"),
	}
	for j, c := range extras {
		c.TimeUnixNano = testEpoch.Add(time.Duration(600+j) * time.Second).UnixNano()
	}
	return append(log, extras...)
}

func golden(t *testing.T) (snap []byte, hash string) {
	t.Helper()
	snap, err := os.ReadFile("testdata/first_release.snap")
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile("testdata/first_release.hash")
	if err != nil {
		t.Fatal(err)
	}
	return snap, strings.TrimSpace(string(h))
}

func TestFirstReleaseCompatibility(t *testing.T) {
	snap, want := golden(t)
	h, _ := newHarness(t)
	for _, c := range goldenLog() {
		h.apply(c)
	}
	if got := h.fsm.Hash(); got != want {
		t.Fatalf("hash of the golden log %s, the first release's %s", got, want)
	}

	g, _ := newHarness(t)
	restore(t, g.fsm, snap)
	if got := g.fsm.Hash(); got != want {
		t.Fatalf("hash of the first release's snapshot %s, want %s", got, want)
	}
	if g.fsm.Applied().Index() != h.fsm.Applied().Index() {
		t.Fatalf("restored index %d, want %d", g.fsm.Applied().Index(), h.fsm.Applied().Index())
	}

	// At state version 1 this node writes the first release's keys with
	// the same values (the key order within the object may differ).
	ours := decodeTop(t, persist(t, h.fsm))
	theirs := decodeTop(t, snap)
	if len(ours) != len(theirs) {
		t.Errorf("keys %v, the first release's %v", keysOf(ours), keysOf(theirs))
	}
	for k, v := range theirs {
		if got := ours[k]; !jsonEqual(t, got, v) {
			t.Errorf("key %q = %s, the first release wrote %s", k, got, v)
		}
	}
}

func decodeTop(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	return top
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// jsonEqual compares two JSON values, ignoring insignificant whitespace
// but not the order of array elements.
func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(x.Bytes(), &va) != nil || json.Unmarshal(y.Bytes(), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va) // maps marshal with sorted keys
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// slowLog is randomLog(9, 3000) stamped 47 s apart, so that keys,
// revocations and retired signing keys expire and are pruned. It must not
// change: testdata/first_release_slowlog.hashes holds the first release's
// state hash after every 100th of its entries.
func slowLog() []*cassnetv1.Command {
	log := randomLog(9, 3000)
	for i, c := range log {
		c.TimeUnixNano = testEpoch.Add(time.Duration(i) * 47 * time.Second).UnixNano()
	}
	return log
}

// TestFirstReleaseHashesAlong applies slowLog at state version 1 and
// compares the hash with the first release's every 100 entries, so that a
// difference in any command's outcome or in pruning is caught near where
// it happens.
func TestFirstReleaseHashesAlong(t *testing.T) {
	raw, err := os.ReadFile("testdata/first_release_slowlog.hashes")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(raw))
	h, _ := newHarness(t)
	checked := 0
	for i, c := range slowLog() {
		h.apply(c)
		if (i+1)%100 != 0 {
			continue
		}
		if got := h.fsm.Hash(); got != want[checked] {
			t.Fatalf("after entry %d: hash %s, the first release's %s", i+1, got, want[checked])
		}
		checked++
	}
	if checked != len(want) || checked == 0 {
		t.Fatalf("checked %d hashes of %d", checked, len(want))
	}
}
