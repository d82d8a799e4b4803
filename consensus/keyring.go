package consensus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// MaxGossipKeys bounds the replicated gossip keyring.
const MaxGossipKeys = 8

// Gossip keyring actions (UpdateGossipKeyring.action), as Consul's.
const (
	KeyringInstall = "install"
	KeyringUse     = "use"
	KeyringRemove  = "remove"
)

// GossipKeyID names a gossip key without revealing it: the first 8 bytes
// of its SHA-256, in hex. Audit entries and the API use it.
func GossipKeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// GossipKeys returns a copy of the replicated gossip keyring, primary
// first. It is empty until the bootstrap node seeds it.
func (s *State) GossipKeys() [][]byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, len(s.gossipKeys))
	for i, k := range s.gossipKeys {
		out[i] = bytes.Clone(k)
	}
	return out
}

func validateGossipKeyring(op *cassnetv1.UpdateGossipKeyring) error {
	switch op.GetAction() {
	case KeyringInstall, KeyringUse, KeyringRemove:
	default:
		return newError(ErrInvalid, "action: must be install, use or remove")
	}
	if n := len(op.GetKey()); n != 16 && n != 24 && n != 32 {
		return newError(ErrInvalid, "key: must be 16, 24 or 32 bytes, got %d", n)
	}
	return nil
}

// updateGossipKeyring applies one rotation step. Install is idempotent;
// use and remove need an installed key; the primary cannot be removed.
// The caller holds the write lock.
func (s *State) updateGossipKeyring(op *cassnetv1.UpdateGossipKeyring) error {
	key := op.GetKey()
	i := slices.IndexFunc(s.gossipKeys, func(k []byte) bool { return bytes.Equal(k, key) })
	switch op.GetAction() {
	case KeyringInstall:
		if i >= 0 {
			return nil
		}
		if len(s.gossipKeys) >= MaxGossipKeys {
			return newError(ErrConflict, "at most %d gossip keys may be installed", MaxGossipKeys)
		}
		s.gossipKeys = append(slices.Clone(s.gossipKeys), bytes.Clone(key))
	case KeyringUse:
		if i < 0 {
			return newError(ErrNotFound, "gossip key %s is not installed", GossipKeyID(key))
		}
		ks := make([][]byte, 0, len(s.gossipKeys))
		ks = append(ks, s.gossipKeys[i])
		for j, k := range s.gossipKeys {
			if j != i {
				ks = append(ks, k)
			}
		}
		s.gossipKeys = ks
	case KeyringRemove:
		if i < 0 {
			return newError(ErrNotFound, "gossip key %s is not installed", GossipKeyID(key))
		}
		if i == 0 {
			return newError(ErrConflict, "gossip key %s is the primary: use another key first", GossipKeyID(key))
		}
		s.gossipKeys = slices.Delete(slices.Clone(s.gossipKeys), i, i+1)
	}
	return nil
}

// restoreGossipKeys checks a snapshot's keyring.
func restoreGossipKeys(fresh *State, keys [][]byte) error {
	if len(keys) > MaxGossipKeys {
		return newError(ErrInvalid, "gossip keyring: %d keys", len(keys))
	}
	for _, k := range keys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return newError(ErrInvalid, "gossip keyring: key of %d bytes", n)
		}
	}
	fresh.gossipKeys = keys
	return nil
}
