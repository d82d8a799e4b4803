package state_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// The files testdata/first_release* were written by the first release's
// consensus.State (commit e8364f0, the one before the domain split; the
// generator is testdata/gen_first_release.go.txt): for goldenLog its
// snapshot and state hash, for slowLog and richLog its state hash along
// the way and each entry's outcome. At state version 1 a node of this
// release must apply every log exactly as the first release did, restore
// its snapshot to the same hash, and write a snapshot with the same
// content (the first release restores that one to the same hash too; that
// was checked by hand with the generator's TestOldRestoresNew), so that
// old and new nodes converge during a rolling upgrade.

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

// richLog returns n commands of every kind over a small name space, with
// a leader clock that moves by random steps of up to two hours, so that
// keys, tokens, revocations and retired signing keys expire and are
// pruned while the session TTL changes. It must not change:
// testdata/first_release_richlog.hashes holds the first release's state
// hash after every 50th of its entries.
func richLog(seed uint64, n int) []*cassnetv1.Command {
	r := rand.New(rand.NewPCG(seed, 2))
	name := func(prefix string, k int) string { return fmt.Sprintf("%s%d", prefix, r.IntN(k)) }
	keyID := func() string { return fmt.Sprintf("%016x", r.IntN(12)) }
	now := testEpoch
	log := make([]*cassnetv1.Command, 0, n)
	for i := range n {
		switch r.IntN(4) {
		case 0:
			now = now.Add(time.Duration(r.IntN(7200)) * time.Second)
		default:
			now = now.Add(time.Duration(1+r.IntN(30)) * time.Second)
		}
		future := func() int64 { return now.Add(time.Duration(60+r.IntN(10800)) * time.Second).Unix() }
		var c *cassnetv1.Command
		switch r.IntN(24) {
		case 0:
			c = createTenant(name("t", 4))
		case 1:
			c = deleteTenant(name("t", 4))
		case 2:
			c = createProject(name("t", 4), name("g", 3))
		case 3, 4:
			c = createBan(name("t", 4), name("b", 30), []string{"", "g0", "g1"}[r.IntN(3)], name("p", 8), int64(r.IntN(4))*1800)
		case 5:
			c = revokeBan(name("t", 4), name("b", 30))
		case 6:
			c = setSettings(uint32(3 + r.IntN(40)))
		case 7:
			c = setSessionTTL(uint32(60 + r.IntN(7200)))
		case 8:
			c = createToken(keyID(), bytes.Repeat([]byte{byte(i)}, 32))
			if r.IntN(2) == 0 {
				c.GetCreateOperatorToken().ExpiresUnix = future()
			}
		case 9:
			c = revokeToken(keyID())
		case 10:
			role := []string{"tenant-admin", "game-server", "read-only"}[r.IntN(3)]
			project := ""
			if role == "game-server" && r.IntN(2) == 0 {
				project = name("g", 3)
			}
			var exp int64
			if r.IntN(2) == 0 {
				exp = future()
			}
			c = createKey(name("t", 4), keyID(), role, project, exp)
		case 11:
			c = revokeKey(name("t", 4), keyID())
		case 12:
			c = touchKeys(keyID(), now.Add(-time.Duration(r.IntN(600))*time.Second).Unix())
		case 13, 14:
			c = rotateKey(name("kid", 8), r.IntN(3) == 0)
		case 15:
			var exp int64
			if r.IntN(2) == 0 {
				exp = future()
			}
			c = revokeSession(name("t", 4), name("ses", 15), exp)
		case 16:
			c = revokePlayer(name("t", 4), name("p", 8), []string{"", "g0", "g1"}[r.IntN(3)])
			if r.IntN(2) == 0 {
				c.GetRevokePlayerSessions().ExpiresUnix = future()
			}
		case 17:
			c = authFailures([]string{"anonymous", "apikey:" + keyID(), "operator:" + keyID()}[r.IntN(3)], name("reason", 3), []string{"", name("t", 4)}[r.IntN(2)], uint32(1+r.IntN(9)))
		case 18:
			c = keyringCmd([]string{"install", "install", "use", "remove"}[r.IntN(4)], bytes.Repeat([]byte{byte(r.IntN(5))}, []int{16, 24, 32}[r.IntN(3)]))
		case 19:
			var exp int64
			if r.IntN(2) == 0 {
				exp = future()
			}
			c, _ = joinTokenCmd(name("secret", 10), exp)
		case 20:
			sum := sha256.Sum256([]byte(name("secret", 10)))
			c = revokeJoinTokenCmd(hex.EncodeToString(sum[:8]))
		case 21:
			c = createTenant(name("t", 4))
			c.Actor = name("op:", 3)
		default:
			c = createBan(name("t", 4), name("b", 30), "", name("p", 8), 0)
		}
		c.TimeUnixNano = now.UnixNano()
		log = append(log, c)
	}
	return log
}

// TestFirstReleaseRichLog applies richLog at state version 1 and compares
// each entry's outcome (testdata/first_release_richlog.codes: "ok" or the
// error code) and, every 50 entries, the hash with the first release's.
func TestFirstReleaseRichLog(t *testing.T) {
	raw, err := os.ReadFile("testdata/first_release_richlog.hashes")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(raw))
	raw, err = os.ReadFile("testdata/first_release_richlog.codes")
	if err != nil {
		t.Fatal(err)
	}
	codes := strings.Fields(string(raw))
	log := richLog(21, 4000)
	if len(codes) != len(log) {
		t.Fatalf("%d codes for %d entries", len(codes), len(log))
	}
	h, _ := newHarness(t)
	checked := 0
	for i, c := range log {
		res := h.apply(c)
		code := "ok"
		var e *consensus.Error
		if errors.As(res.Err, &e) {
			code = e.Code
		} else if res.Err != nil {
			code = "other"
		}
		if code != codes[i] {
			t.Fatalf("entry %d (%v): %s (%v), the first release's %s", i+1, c.GetOp(), code, res.Err, codes[i])
		}
		if (i+1)%50 != 0 {
			continue
		}
		if got := h.fsm.Hash(); got != want[checked] {
			t.Fatalf("after entry %d (%v): hash %s, the first release's %s", i+1, c.GetOp(), got, want[checked])
		}
		checked++
	}
	if checked != len(want) || checked == 0 {
		t.Fatalf("checked %d hashes of %d", checked, len(want))
	}
}
