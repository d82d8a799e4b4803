package consensus

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func TestCodecRoundTrip(t *testing.T) {
	cmds := []*cassnetv1.Command{
		createTenant("acme"), deleteTenant("acme"), createProject("acme", "g"),
		createBan("b1"), revokeBan("acme", "b1"), setStateVersion(2),
		with(createTenant("x"), func(c *cassnetv1.Command) { c.TimeUnixNano = testEpoch.UnixNano() }),
	}
	for _, c := range cmds {
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
		again, _ := EncodeCommand(got)
		if string(again) != string(data) {
			t.Fatalf("encoding is not deterministic for %v", c)
		}
	}
	if _, err := EncodeCommand(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EncodeCommand(nil) = %v", err)
	}
	if _, err := DecodeCommand([]byte{0x0a}); !errors.Is(err, ErrInvalid) {
		t.Errorf("DecodeCommand(truncated) = %v", err)
	}
}

// FuzzApplyEnvelope feeds arbitrary bytes to FSM.Apply over the fake
// modules: decoding, envelope checks and routing must never panic, must
// always advance the index, and must change nothing when they report an
// error. The domain modules' handlers are fuzzed by state's
// FuzzDecodeApply, which consensus's tests cannot import.
func FuzzApplyEnvelope(f *testing.F) {
	for _, c := range []*cassnetv1.Command{
		createTenant("acme"), deleteTenant("acme"), createProject("acme", "g"), createProject("acme", "fail"),
		createBan("b1"), revokeBan("acme", "b1"), setStateVersion(2), newCmd(),
	} {
		c.TimeUnixNano = testEpoch.UnixNano()
		data, err := EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{0x08, 0x01, 0x10, 0x01, 0x8a, 0x01, 0x00})

	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t)
		baseState(h)
		before := h.fsm.Hash()
		res := h.applyRaw(data)
		if got := h.fsm.Applied().Index(); got != h.index {
			t.Fatalf("Index = %d, want %d", got, h.index)
		}
		if res.Err != nil {
			var e *Error
			if !errors.As(res.Err, &e) {
				t.Fatalf("error %v is not a *consensus.Error", res.Err)
			}
			if h.fsm.Hash() != before {
				t.Fatalf("rejected entry (%v) changed the state", res.Err)
			}
		}
	})
}
