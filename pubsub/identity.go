package pubsub

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// IdentityFile is the name of the libp2p key file in a node's data dir.
const IdentityFile = "p2p-key"

// LoadIdentity reads the libp2p private key at path, or creates an
// Ed25519 key there (mode 0600) if the file does not exist, so that the
// node's peer ID survives restarts. It also returns the peer ID.
func LoadIdentity(path string) (crypto.PrivKey, peer.ID, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createIdentity(path)
	case err != nil:
		return nil, "", fmt.Errorf("pubsub: read identity: %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: identity %s: %w", path, err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: identity %s: %w", path, err)
	}
	return key, id, nil
}

func createIdentity(path string) (crypto.PrivKey, peer.ID, error) {
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: generate identity: %w", err)
	}
	b, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: encode identity: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".p2p-key-*")
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: write identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(b)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
	}
	if err != nil {
		_ = tmp.Close()
		return nil, "", fmt.Errorf("pubsub: write identity: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("pubsub: identity: %w", err)
	}
	return key, id, nil
}
