package cluster_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/cluster"
	"github.com/cassandranet/cassnet/state/settings"
)

// newHarness returns a harness over the cluster module and an audit log.
func newHarness(t testing.TB) (*harness, *cluster.Store, *audit.Store) {
	t.Helper()
	set := settings.New()
	s, a := cluster.New(), audit.New(set)
	return newHarnessOver(t, []consensus.Module{set, a, s}), s, a
}

func TestJoinTokens(t *testing.T) {
	h, s, _ := newHarness(t)
	c1, id1 := joinTokenCmd("one", 0)
	c2, id2 := joinTokenCmd("two", h.now.Add(time.Hour).Unix())
	h.mustApply(c1, c2)
	if id1 != cluster.JoinTokenID(c1.GetCreateJoinToken().GetSecretSha256()) {
		t.Fatalf("test builder disagrees with JoinTokenID")
	}
	if got := s.JoinTokens(); len(got) != 2 || got[0].ID != id1 || got[1].ExpiresAt == nil {
		t.Fatalf("tokens %+v", got)
	}
	if n := len(s.JoinSecretHashes(h.now)); n != 2 {
		t.Fatalf("%d valid hashes now, want 2", n)
	}
	if n := len(s.JoinSecretHashes(h.now.Add(2 * time.Hour))); n != 1 {
		t.Fatalf("%d valid hashes after expiry, want 1", n)
	}
	dup, _ := joinTokenCmd("one", 0)
	bad, _ := joinTokenCmd("three", 0)
	bad.GetCreateJoinToken().Id = "0000000000000000"
	past, _ := joinTokenCmd("four", testEpoch.Unix())
	for _, tc := range []struct {
		cmd  *cassnetv1.Command
		want error
	}{
		{dup, consensus.ErrConflict},
		{bad, consensus.ErrInvalid},
		{past, consensus.ErrInvalid},
		{revokeJoinTokenCmd("ffffffffffffffff"), consensus.ErrNotFound},
		{revokeJoinTokenCmd("nothex"), consensus.ErrInvalid},
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.cmd.GetOp(), res.Err, tc.want)
		}
	}
	h.mustApply(revokeJoinTokenCmd(id1))
	hashes := s.JoinSecretHashes(h.now)
	sum := sha256.Sum256([]byte("two"))
	if len(hashes) != 1 || !bytes.Equal(hashes[0], sum[:]) {
		t.Fatalf("after revoke: %x", hashes)
	}
	h2, s2, _ := newHarness(t)
	restore(t, h2.fsm, persist(t, h.fsm))
	if h2.fsm.Hash() != h.fsm.Hash() || len(s2.JoinTokens()) != 1 || s2.JoinTokens()[0].ID != id2 {
		t.Fatal("snapshot round trip lost join tokens")
	}
}

func TestJoinTokenLimit(t *testing.T) {
	h, _, _ := newHarness(t)
	for i := range cluster.MaxJoinTokens {
		c, _ := joinTokenCmd(fmt.Sprint(i), 0)
		h.mustApply(c)
	}
	c, _ := joinTokenCmd("one more", 0)
	if res := h.apply(c); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("token beyond the limit: %v", res.Err)
	}
}

func TestGossipKeyringRotation(t *testing.T) {
	h, s, a := newHarness(t)
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	h.mustApply(keyringCmd(cluster.KeyringInstall, k1), keyringCmd(cluster.KeyringInstall, k2), keyringCmd(cluster.KeyringInstall, k2))
	if got := s.GossipKeys(); len(got) != 2 || !bytes.Equal(got[0], k1) {
		t.Fatalf("after install: %x", got)
	}
	for _, tc := range []struct {
		cmd  *cassnetv1.Command
		want error
	}{
		{keyringCmd(cluster.KeyringRemove, k1), consensus.ErrConflict},                       // the primary
		{keyringCmd(cluster.KeyringUse, bytes.Repeat([]byte{3}, 32)), consensus.ErrNotFound}, // not installed
		{keyringCmd(cluster.KeyringRemove, bytes.Repeat([]byte{3}, 32)), consensus.ErrNotFound},
		{keyringCmd("rotate", k1), consensus.ErrInvalid},
		{keyringCmd(cluster.KeyringInstall, []byte("short")), consensus.ErrInvalid},
	} {
		if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.cmd.GetUpdateGossipKeyring().GetAction(), res.Err, tc.want)
		}
	}
	before := h.fsm.Hash()
	got := s.GossipKeys()
	got[0][0] = 9 // a copy
	if h.fsm.Hash() != before || s.GossipKeys()[0][0] != 1 {
		t.Fatal("mutating a returned key changed the keyring")
	}
	h.mustApply(keyringCmd(cluster.KeyringUse, k2))
	if h.fsm.Hash() == before {
		t.Fatal("hash ignores the primary gossip key")
	}
	h.mustApply(keyringCmd(cluster.KeyringRemove, k1))
	got = s.GossipKeys()
	if len(got) != 1 || !bytes.Equal(got[0], k2) {
		t.Fatalf("after use+remove: %x", got)
	}
	entries := a.Entries("", 1000)
	if len(entries) != 5 {
		t.Fatalf("audit has %d entries, want 5", len(entries))
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, "gossip_keyring.") || e.Target != cluster.GossipKeyID(k1) && e.Target != cluster.GossipKeyID(k2) ||
			strings.Contains(e.Target, "0202") || strings.Contains(e.Target, "0101") {
			t.Fatalf("audit entry missing or leaking the key: %+v", e)
		}
	}

	h2, s2, _ := newHarness(t)
	restore(t, h2.fsm, persist(t, h.fsm))
	if h2.fsm.Hash() != h.fsm.Hash() || len(s2.GossipKeys()) != 1 {
		t.Fatal("snapshot round trip lost the gossip keyring")
	}
}

func TestGossipKeyLimit(t *testing.T) {
	h, _, _ := newHarness(t)
	for i := range cluster.MaxGossipKeys {
		h.mustApply(keyringCmd(cluster.KeyringInstall, bytes.Repeat([]byte{byte(i)}, 16)))
	}
	if res := h.apply(keyringCmd(cluster.KeyringInstall, bytes.Repeat([]byte{99}, 16))); !errors.Is(res.Err, consensus.ErrConflict) {
		t.Fatalf("key beyond the limit: %v", res.Err)
	}
}

// TestHashCoversJoinTokens is the hash coverage test for JoinToken.
func TestHashCoversJoinTokens(t *testing.T) {
	var id string
	setup := func(t *testing.T) *harness {
		h, _, _ := newHarness(t)
		var c *cassnetv1.Command
		c, id = joinTokenCmd("one", testEpoch.Add(time.Hour).Unix())
		h.mustApply(c)
		return h
	}
	hashCoversFields(t, setup, func(h *harness, fn func(*cluster.JoinToken)) {
		cluster.EditJoinToken(h.modules[2].(*cluster.Store), id, fn)
	})
}
