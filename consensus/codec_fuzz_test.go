package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range randomLog(3, 50) {
		data, err := EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCommand(data)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, c) {
			t.Fatalf("round trip: got %v, want %v", got, c)
		}
	}
	if _, err := EncodeCommand(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EncodeCommand(nil) = %v", err)
	}
	if _, err := DecodeCommand([]byte{0x0a}); !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodeCommand(truncated) = %v", err)
	}
}

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
			role := []string{RoleTenantAdmin, RoleGameServer, RoleReadOnly}[r.IntN(3)]
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

func TestFSMDeterminism(t *testing.T) {
	log := randomLog(42, 2000)
	a, b := newHarness(t), newHarness(t)
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
	if a.state().Hash() != b.state().Hash() {
		t.Fatal("same log, different hashes")
	}

	// A rejected entry moves the index but not the hash.
	hash := b.state().Hash()
	if res := b.apply(createTenant("INVALID")); res.Err == nil {
		t.Fatal("invalid tenant accepted")
	}
	if b.state().Hash() != hash || b.state().Index() == a.state().Index() {
		t.Fatal("hash must ignore the applied index")
	}

	// Any accepted change, even only the actor in the audit log, changes it.
	for _, actor := range []string{"op:alice", "op:bob"} {
		c := createTenant("fresh")
		c.Actor = actor
		h := newHarness(t)
		h.mustApply(c)
		if actor == "op:alice" {
			hash = h.state().Hash()
		} else if h.state().Hash() == hash {
			t.Fatal("different actor, same hash")
		}
	}
}

// FuzzDecodeApply feeds arbitrary bytes to FSM.Apply on a populated state.
// Apply must not panic, must always advance the index, and must change
// nothing when it reports an error.
func FuzzDecodeApply(f *testing.F) {
	seed := newHarness(f)
	baseState(seed)
	for _, c := range append(randomLog(11, 40),
		createTenant("acme"), deleteTenant("acme"), revokeBan("acme", "b1"), revokeBan("acme", "b2"),
		createBan("acme", "b9", "shooter", "p1", 60), createProject("acme", "shooter"),
		createKey("acme", testKeyID, RoleGameServer, "shooter", 0), revokeKey("acme", testKeyID),
		touchKeys(testKeyID, testEpoch.Unix()), rotateKey("kid1", true), rotateKey("kid2", false),
		revokeSession("acme", "ses1", 0), revokePlayer("acme", "p1", "shooter"),
		authFailures("apikey:"+testKeyID, "bad_secret", "acme", 3), revokeToken("0123456789abcdef"),
	) {
		if c.TimeUnixNano == 0 {
			c.TimeUnixNano = testEpoch.UnixNano()
		}
		data, err := EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t)
		baseState(h)
		before := h.state().Hash()
		auditBefore := len(h.state().Audit("", 0))
		res := h.applyRaw(data)
		if got := h.state().Index(); got != h.index {
			t.Fatalf("Index = %d, want %d", got, h.index)
		}
		if res.Err != nil {
			var e *Error
			if !errors.As(res.Err, &e) {
				t.Fatalf("error %v is not a *consensus.Error", res.Err)
			}
			if h.state().Hash() != before || len(h.state().Audit("", 0)) != auditBefore {
				t.Fatalf("rejected entry (%v) changed the state", res.Err)
			}
			return
		}
		if cmd, _ := DecodeCommand(data); cmd.GetTouchApiKeys() != nil {
			return // key-use bookkeeping is deliberately not audited
		}
		if a := h.state().Audit("", 1); len(a) != 1 || a[0].Index != h.index {
			t.Fatalf("accepted entry was not audited: newest entry %+v", a)
		}
	})
}

// TestHashCoversEveryField changes each field of each stored record, one at
// a time, and checks that the hash notices. It walks the struct fields by
// reflection, so a field added later without a line in the hash encoder
// makes it fail.
func TestHashCoversEveryField(t *testing.T) {
	targets := []struct {
		name string
		typ  reflect.Type
		// edit hands a pointer to the stored record to fn and stores it back.
		edit func(s *State, fn func(reflect.Value))
	}{
		{"Tenant", reflect.TypeFor[Tenant](), func(s *State, fn func(reflect.Value)) {
			fn(reflect.ValueOf(&s.tenants["acme"].info).Elem())
		}},
		{"Project", reflect.TypeFor[Project](), func(s *State, fn func(reflect.Value)) {
			p := s.tenants["acme"].projects["shooter"]
			fn(reflect.ValueOf(&p).Elem())
			s.tenants["acme"].projects["shooter"] = p
		}},
		{"Ban", reflect.TypeFor[Ban](), func(s *State, fn func(reflect.Value)) {
			fn(reflect.ValueOf(s.tenants["acme"].bans["b2"]).Elem())
		}},
		{"OperatorToken", reflect.TypeFor[OperatorToken](), func(s *State, fn func(reflect.Value)) {
			tok := s.tokens["tok"]
			fn(reflect.ValueOf(&tok).Elem())
			s.tokens["tok"] = tok
		}},
		{"AuditEntry", reflect.TypeFor[AuditEntry](), func(s *State, fn func(reflect.Value)) {
			fn(reflect.ValueOf(&s.audit[len(s.audit)-1]).Elem())
		}},
		{"Settings", reflect.TypeFor[Settings](), func(s *State, fn func(reflect.Value)) {
			fn(reflect.ValueOf(&s.settings).Elem())
		}},
		{"APIKey", reflect.TypeFor[APIKey](), func(s *State, fn func(reflect.Value)) {
			k := s.tenants["acme"].keys[testKeyID]
			fn(reflect.ValueOf(&k).Elem())
			s.tenants["acme"].keys[testKeyID] = k
		}},
		{"SigningKey", reflect.TypeFor[SigningKey](), func(s *State, fn func(reflect.Value)) {
			k := s.signing["kid1"]
			fn(reflect.ValueOf(&k).Elem())
			s.signing["kid1"] = k
		}},
		{"SessionRevocation", reflect.TypeFor[SessionRevocation](), func(s *State, fn func(reflect.Value)) {
			r := s.tenants["acme"].sessions["ses1"]
			fn(reflect.ValueOf(&r).Elem())
			s.tenants["acme"].sessions["ses1"] = r
		}},
		{"PlayerRevocation", reflect.TypeFor[PlayerRevocation](), func(s *State, fn func(reflect.Value)) {
			key := playerScope{player: "p1", project: "shooter"}
			r := s.tenants["acme"].players[key]
			fn(reflect.ValueOf(&r).Elem())
			s.tenants["acme"].players[key] = r
		}},
	}
	for _, tg := range targets {
		for i := range tg.typ.NumField() {
			field := tg.typ.Field(i)
			t.Run(tg.name+"."+field.Name, func(t *testing.T) {
				h := newHarness(t)
				baseState(h)
				h.mustApply(createToken("tok", make([]byte, 32)), setSettings(50))
				h.mustApply(identityState()...)
				before := h.state().Hash()
				tg.edit(h.state(), func(v reflect.Value) { perturb(t, v.Field(i)) })
				h.state().gen++ // as apply does, so Hash does not answer from its memo
				if h.state().Hash() == before {
					t.Fatalf("changing %s.%s does not change the hash", tg.name, field.Name)
				}
			})
		}
	}
}

// perturb changes v to a different value of its type.
func perturb(t *testing.T, v reflect.Value) {
	t.Helper()
	switch x := v.Addr().Interface().(type) {
	case *string:
		*x += "x"
	case *uint64:
		*x++
	case *uint32:
		*x++
	case *[]byte:
		*x = append(slices.Clone(*x), 1)
	case *time.Time:
		*x = x.Add(time.Nanosecond)
	case **time.Time:
		if *x == nil {
			*x = &testEpoch
		} else {
			*x = nil
		}
	default:
		t.Fatalf("perturb: no rule for %s", v.Type())
	}
}
