package operators_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/operators"
)

func newHarness(t testing.TB) (*harness, *operators.Store) {
	t.Helper()
	s := operators.New()
	return newHarnessOver(t, []consensus.Module{s}), s
}

func expiring(id string, at time.Time) *cassnetv1.Command {
	return with(createToken(id, bytes.Repeat([]byte{2}, 32)), func(c *cassnetv1.Command) {
		c.GetCreateOperatorToken().ExpiresUnix = at.Unix()
	})
}

func TestOperatorTokens(t *testing.T) {
	h, s := newHarness(t)
	secret := bytes.Repeat([]byte{7}, 32)
	h.mustApply(createToken("0123456789abcdef", secret), expiring("0123456789abcde0", testEpoch.Add(time.Hour)))
	for _, tc := range []struct {
		name string
		cmd  *cassnetv1.Command
		want error
	}{
		{"duplicate", createToken("0123456789abcdef", secret), consensus.ErrConflict},
		{"born expired", expiring("0123456789abcde1", testEpoch), consensus.ErrInvalid},
		{"revoke missing", revokeToken("ffffffffffffffff"), consensus.ErrNotFound},
		{"revoke bad id", revokeToken("tok"), consensus.ErrInvalid},
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, res.Err, tc.want)
		}
	}
	toks := s.Tokens()
	if len(toks) != 2 || toks[0].ID != "0123456789abcdef" || toks[1].ExpiresAt == nil {
		t.Fatalf("Tokens = %+v", toks)
	}
	// A copy: changing it changes nothing.
	hash := h.freshHash()
	toks[0].SecretSHA256[0]++
	tok, _ := s.Token("0123456789abcdef")
	tok.SecretSHA256[1]++
	if h.freshHash() != hash {
		t.Fatal("mutating a returned value changed the state")
	}

	// The expiring token still authenticates, so the other may go...
	h.mustApply(revokeToken("0123456789abcdef"))
	// ...but not the last one.
	if res := h.apply(revokeToken("0123456789abcde0")); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("revoking the last token: %v", res.Err)
	}
	// An hour of leader time later it has expired and is pruned.
	c := createToken("0123456789abcde2", secret)
	c.TimeUnixNano = testEpoch.Add(time.Hour).UnixNano()
	h.mustApply(c)
	if _, ok := s.Token("0123456789abcde0"); ok {
		t.Fatal("expired token not pruned")
	}
}

// TestRevokeLastActiveToken checks that an expired token does not count as
// another way in.
func TestRevokeLastActiveToken(t *testing.T) {
	h, _ := newHarness(t)
	h.mustApply(createToken("0123456789abcdef", make([]byte, 32)), expiring("0123456789abcde0", testEpoch.Add(10*time.Second)))
	c := revokeToken("0123456789abcdef")
	c.TimeUnixNano = testEpoch.Add(10 * time.Second).UnixNano()
	if res := h.apply(c); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("revoking the last token that authenticates: %v", res.Err)
	}
}

func TestTokenLimit(t *testing.T) {
	h, _ := newHarness(t)
	for i := range operators.MaxTokens {
		h.mustApply(createToken(fmt.Sprintf("%016x", i), make([]byte, 32)))
	}
	if res := h.apply(createToken("ffffffffffffffff", make([]byte, 32))); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("token beyond the limit: %v", res.Err)
	}
}

func TestHashCoversEveryTokenField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _ := newHarness(t)
		h.mustApply(expiring("0123456789abcdef", testEpoch.Add(time.Hour)))
		return h
	}
	hashCoversFields(t, setup, func(h *harness, fn func(*operators.Token)) {
		operators.EditToken(h.modules[0].(*operators.Store), "0123456789abcdef", fn)
	})
}

func TestTokenPruneBoundary(t *testing.T) {
	for _, early := range []bool{true, false} {
		h, s := newHarness(t)
		exp := testEpoch.Add(time.Hour)
		h.mustApply(createToken("0123456789abcdef", make([]byte, 32)), expiring("0123456789abcde0", exp))
		at := exp
		if early {
			at = exp.Add(-time.Nanosecond)
		}
		c := createToken("0123456789abcde1", make([]byte, 32))
		c.TimeUnixNano = at.UnixNano()
		h.mustApply(c)
		if _, ok := s.Token("0123456789abcde0"); ok != early {
			t.Errorf("early=%v: token kept = %v", early, ok)
		}
	}
}
