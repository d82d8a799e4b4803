package consensus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func joinTokenCmd(secret string, expires int64) (*cassnetv1.Command, string) {
	sum := sha256.Sum256([]byte(secret))
	c := newCmd()
	id := JoinTokenID(sum[:])
	c.Op = &cassnetv1.Command_CreateJoinToken{CreateJoinToken: &cassnetv1.CreateJoinToken{Id: id, SecretSha256: sum[:], ExpiresUnix: expires}}
	return c, id
}

func revokeJoinTokenCmd(id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeJoinToken{RevokeJoinToken: &cassnetv1.RevokeJoinToken{Id: id}}
	return c
}

func TestJoinTokens(t *testing.T) {
	h := newHarness(t)
	c1, id1 := joinTokenCmd("one", 0)
	c2, id2 := joinTokenCmd("two", h.now.Add(time.Hour).Unix())
	h.mustApply(c1, c2)
	if got := h.state().JoinTokens(); len(got) != 2 || got[0].ID != id1 || got[1].ExpiresAt == nil {
		t.Fatalf("tokens %+v", got)
	}
	if n := len(h.state().JoinSecretHashes(h.now)); n != 2 {
		t.Fatalf("%d valid hashes now, want 2", n)
	}
	if n := len(h.state().JoinSecretHashes(h.now.Add(2 * time.Hour))); n != 1 {
		t.Fatalf("%d valid hashes after expiry, want 1", n)
	}
	dup, _ := joinTokenCmd("one", 0)
	bad, _ := joinTokenCmd("three", 0)
	bad.GetCreateJoinToken().Id = "0000000000000000"
	for _, tc := range []struct {
		cmd  *cassnetv1.Command
		want error
	}{
		{dup, ErrConflict},
		{bad, ErrInvalid},
		{revokeJoinTokenCmd("ffffffffffffffff"), ErrNotFound},
		{revokeJoinTokenCmd("nothex"), ErrInvalid},
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.cmd.GetOp(), res.Err, tc.want)
		}
	}
	h.mustApply(revokeJoinTokenCmd(id1))
	hashes := h.state().JoinSecretHashes(h.now)
	sum := sha256.Sum256([]byte("two"))
	if len(hashes) != 1 || !bytes.Equal(hashes[0], sum[:]) {
		t.Fatalf("after revoke: %x", hashes)
	}
	h2 := newHarness(t)
	restore(t, h2.fsm, persist(t, h.fsm))
	if h2.state().Hash() != h.state().Hash() || len(h2.state().JoinTokens()) != 1 || h2.state().JoinTokens()[0].ID != id2 {
		t.Fatal("snapshot round trip lost join tokens")
	}
}

// TestHashCoversJoinTokens is TestHashCoversEveryField for JoinToken.
func TestHashCoversJoinTokens(t *testing.T) {
	typ := reflect.TypeFor[JoinToken]()
	for i := range typ.NumField() {
		t.Run(typ.Field(i).Name, func(t *testing.T) {
			h := newHarness(t)
			c, id := joinTokenCmd("one", 0)
			h.mustApply(c)
			before := h.state().Hash()
			tok := h.state().joinTokens[id]
			perturb(t, reflect.ValueOf(&tok).Elem().Field(i))
			h.state().joinTokens[id] = tok
			h.state().gen++
			if h.state().Hash() == before {
				t.Fatalf("changing JoinToken.%s does not change the hash", typ.Field(i).Name)
			}
		})
	}
}
