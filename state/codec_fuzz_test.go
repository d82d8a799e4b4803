package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// randomLog returns n commands over a small name space, so that many of
// them conflict or miss and are rejected.
func randomLog(seed uint64, n int) []*cassnetv1.Command {
	r := rand.New(rand.NewPCG(seed, 1))
	name := func(prefix string, k int) string { return fmt.Sprintf("%s%d", prefix, r.IntN(k)) }
	log := make([]*cassnetv1.Command, 0, n)
	for i := range n {
		var c *cassnetv1.Command
		switch r.IntN(14) {
		case 0:
			c = createTenant(name("t", 4))
		case 1:
			c = deleteTenant(name("t", 4))
		case 2:
			c = createProject(name("t", 4), name("g", 3))
		case 3, 4:
			c = createBan(name("t", 4), name("b", 40), []string{"", "g0", "g1"}[r.IntN(3)], name("p", 10), int64(r.IntN(3))*3600)
		case 5:
			c = revokeBan(name("t", 4), name("b", 40))
		case 6:
			c = setSettings(uint32(5 + r.IntN(50)))
		case 7:
			c = createToken(name("k", 5), bytes.Repeat([]byte{byte(i)}, 32))
		case 8:
			role := []string{identity.RoleTenantAdmin, identity.RoleGameServer, identity.RoleReadOnly}[r.IntN(3)]
			c = createKey(name("t", 4), fmt.Sprintf("%016x", r.IntN(8)), role, "", int64(r.IntN(2))*testEpoch.Add(time.Duration(i+600)*time.Second).Unix())
		case 9:
			c = revokeKey(name("t", 4), fmt.Sprintf("%016x", r.IntN(8)))
		case 10:
			c = touchKeys(fmt.Sprintf("%016x", r.IntN(8)), testEpoch.Add(time.Duration(i)*time.Second).Unix())
		case 11:
			c = rotateKey(name("kid", 6), false)
		case 12:
			c = revokeSession(name("t", 4), name("ses", 20), 0)
		default:
			c = revokePlayer(name("t", 4), name("p", 10), []string{"", "g0"}[r.IntN(2)])
		}
		c.TimeUnixNano = testEpoch.Add(time.Duration(i) * time.Second).UnixNano()
		log = append(log, c)
	}
	return log
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range randomLog(3, 50) {
		data, err := consensus.EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := consensus.DecodeCommand(data)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, c) {
			t.Fatalf("round trip: got %v, want %v", got, c)
		}
	}
}

func TestFSMDeterminism(t *testing.T) {
	log := randomLog(42, 2000)
	a, _ := newHarness(t)
	b, _ := newHarness(t)
	rejected := 0
	for _, c := range log {
		ra, rb := a.apply(c), b.apply(c)
		if (ra.Err == nil) != (rb.Err == nil) {
			t.Fatalf("index %d: results differ: %v vs %v", a.index, ra.Err, rb.Err)
		}
		if ra.Err != nil {
			rejected++
		}
	}
	if rejected == 0 || rejected == len(log) {
		t.Fatalf("random log should mix accepted and rejected commands; %d of %d rejected", rejected, len(log))
	}
	if a.fsm.Hash() != b.fsm.Hash() {
		t.Fatal("same log, different hashes")
	}

	// A rejected entry moves the index but not the hash.
	hash := b.fsm.Hash()
	if res := b.apply(createTenant("INVALID")); res.Err == nil {
		t.Fatal("invalid tenant accepted")
	}
	if b.fsm.Hash() != hash || b.fsm.Applied().Index() == a.fsm.Applied().Index() {
		t.Fatal("hash must ignore the applied index")
	}

	// Any accepted change, even only the actor in the audit log, changes it.
	for _, actor := range []string{"op:alice", "op:bob"} {
		c := createTenant("fresh")
		c.Actor = actor
		h, _ := newHarness(t)
		h.mustApply(c)
		if actor == "op:alice" {
			hash = h.fsm.Hash()
		} else if h.fsm.Hash() == hash {
			t.Fatal("different actor, same hash")
		}
	}
}

// FuzzDecodeApply feeds arbitrary bytes to FSM.Apply on a populated state
// of every domain. Apply must not panic, must always advance the index,
// and must change nothing when it reports an error.
func FuzzDecodeApply(f *testing.F) {
	seed, _ := newHarness(f)
	baseState(seed)
	for _, c := range append(randomLog(11, 40),
		createTenant("acme"), deleteTenant("acme"), revokeBan("acme", "b1"), revokeBan("acme", "b2"),
		createBan("acme", "b9", "shooter", "p1", 60), createProject("acme", "shooter"),
		createKey("acme", testKeyID, identity.RoleGameServer, "shooter", 0), revokeKey("acme", testKeyID),
		touchKeys(testKeyID, testEpoch.Unix()), rotateKey("kid1", true), rotateKey("kid2", false),
		revokeSession("acme", "ses1", 0), revokePlayer("acme", "p1", "shooter"),
		authFailures("apikey:"+testKeyID, "bad_secret", "acme", 3), revokeToken("0123456789abcdef"),
		setStateVersion(consensus.StateVersionDomains), setBanRetention(3600),
	) {
		if c.TimeUnixNano == 0 {
			c.TimeUnixNano = testEpoch.UnixNano()
		}
		data, err := consensus.EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		h, d := newHarness(t)
		baseState(h)
		before := h.fsm.Hash()
		auditBefore := len(d.Audit.Entries("", 0))
		res := h.applyRaw(data)
		if got := h.fsm.Applied().Index(); got != h.index {
			t.Fatalf("Index = %d, want %d", got, h.index)
		}
		if res.Err != nil {
			var e *consensus.Error
			if !errors.As(res.Err, &e) {
				t.Fatalf("error %v is not a *consensus.Error", res.Err)
			}
			if h.fsm.Hash() != before || len(d.Audit.Entries("", 0)) != auditBefore {
				t.Fatalf("rejected entry (%v) changed the state", res.Err)
			}
			return
		}
		cmd, _ := consensus.DecodeCommand(data)
		if cmd.GetTouchApiKeys() != nil || cmd.GetSetStateVersion() != nil {
			return // key-use bookkeeping and the state version are deliberately not audited
		}
		if a := d.Audit.Entries("", 1); len(a) != 1 || a[0].Index != h.index {
			t.Fatalf("accepted entry was not audited: newest entry %+v", a)
		}
	})
}
