package mesh

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"
)

// gossipKeyInfo binds the derived key to its purpose and version. Changing
// it changes every cluster's key, so it must never change for v1 clusters.
const gossipKeyInfo = "cassnet gossip key v1"

// GossipKeySize is the length of the key GossipKey returns (AES-256-GCM).
const GossipKeySize = 32

// GossipKey derives the 32-byte AES-256-GCM gossip key from the cluster's
// join token with HKDF-SHA256 (no salt, info "cassnet gossip key v1").
// The same token always gives the same key, so every node that knows the
// token can talk to the others and nothing else can. Neither the token nor
// the key is ever logged.
//
// GossipKey panics only under GODEBUG=fips140=only with a token shorter
// than 14 bytes, which that mode refuses as an HKDF secret; New reports
// that case as an error instead.
func GossipKey(joinToken string) []byte {
	key, err := deriveGossipKey(joinToken)
	if err != nil {
		panic(err)
	}
	return key
}

func deriveGossipKey(joinToken string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, []byte(joinToken), nil, gossipKeyInfo, GossipKeySize)
	if err != nil {
		return nil, fmt.Errorf("mesh: derive gossip key: %w", err)
	}
	return key, nil
}

// newKeyring returns a memberlist keyring whose primary (and only) key is
// derived from joinToken.
func newKeyring(joinToken string) (*memberlist.Keyring, error) {
	if joinToken == "" {
		return nil, errors.New("mesh: join token is required")
	}
	key, err := deriveGossipKey(joinToken)
	if err != nil {
		return nil, err
	}
	kr, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return nil, fmt.Errorf("mesh: keyring: %w", err)
	}
	return kr, nil
}

// configKeyring is the keyring c asks for: c.Keys (primary first) when
// set, else the key derived from c.JoinToken.
func configKeyring(c Config) (*memberlist.Keyring, error) {
	if len(c.Keys) == 0 {
		return newKeyring(c.JoinToken)
	}
	kr, err := memberlist.NewKeyring(c.Keys, c.Keys[0])
	if err != nil {
		return nil, fmt.Errorf("mesh: keyring: %w", err)
	}
	return kr, nil
}

// Keys returns the gossip keyring in use, primary first.
func (m *Mesh) Keys() ([][]byte, error) {
	if _, err := m.state(); err != nil {
		return nil, err
	}
	return m.keyring.GetKeys(), nil
}

// SetKeys makes the gossip keyring exactly keys, primary first, in the
// order that never leaves a moment without a usable key: it installs the
// missing keys, switches the primary, then removes the keys not listed.
// Nodes keep decrypting with every installed key, so a rotation driven
// through Raft (install, then use, then remove) never splits the mesh.
func (m *Mesh) SetKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("mesh: SetKeys: no keys")
	}
	if _, err := m.state(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.keyring.AddKey(k); err != nil {
			return fmt.Errorf("mesh: install gossip key: %w", err)
		}
	}
	if err := m.keyring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("mesh: use gossip key: %w", err)
	}
	for _, k := range m.keyring.GetKeys() {
		if !slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) }) {
			if err := m.keyring.RemoveKey(k); err != nil {
				return fmt.Errorf("mesh: remove gossip key: %w", err)
			}
		}
	}
	return nil
}
