package consensus

import (
	"bytes"
	"errors"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func keyringCmd(action string, key []byte) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_UpdateGossipKeyring{UpdateGossipKeyring: &cassnetv1.UpdateGossipKeyring{Action: action, Key: key}}
	return c
}

func TestGossipKeyringRotation(t *testing.T) {
	h := newHarness(t)
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	h.mustApply(keyringCmd(KeyringInstall, k1), keyringCmd(KeyringInstall, k2), keyringCmd(KeyringInstall, k2))
	if got := h.state().GossipKeys(); len(got) != 2 || !bytes.Equal(got[0], k1) {
		t.Fatalf("after install: %x", got)
	}
	for _, tc := range []struct {
		cmd  *cassnetv1.Command
		want error
	}{
		{keyringCmd(KeyringRemove, k1), ErrConflict},                       // the primary
		{keyringCmd(KeyringUse, bytes.Repeat([]byte{3}, 32)), ErrNotFound}, // not installed
		{keyringCmd("rotate", k1), ErrInvalid},
		{keyringCmd(KeyringInstall, []byte("short")), ErrInvalid},
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.cmd.GetUpdateGossipKeyring().GetAction(), res.Err, tc.want)
		}
	}
	before := h.state().Hash()
	h.mustApply(keyringCmd(KeyringUse, k2))
	if h.state().Hash() == before {
		t.Fatal("hash ignores the primary gossip key")
	}
	h.mustApply(keyringCmd(KeyringRemove, k1))
	got := h.state().GossipKeys()
	if len(got) != 1 || !bytes.Equal(got[0], k2) {
		t.Fatalf("after use+remove: %x", got)
	}
	if a := h.state().Audit("", 1000); len(a) == 0 || bytes.Contains([]byte(a[len(a)-1].Target), []byte("02020202")) {
		t.Fatalf("audit entry missing or leaking the key: %+v", a)
	}

	h2 := newHarness(t)
	restore(t, h2.fsm, persist(t, h.fsm))
	if h2.state().Hash() != h.state().Hash() || len(h2.state().GossipKeys()) != 1 {
		t.Fatal("snapshot round trip lost the gossip keyring")
	}
}
