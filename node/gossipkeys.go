package node

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// gossipKeysFile holds the node's gossip keyring (primary first), mode
// 0600. The bootstrap node creates it; joining nodes receive it in the
// join handshake. It is read at every start, so a restarted node keeps
// the keyring it had.
const gossipKeysFile = "gossip-keys.json"

type gossipKeysDoc struct {
	Keys [][]byte `json:"keys"` // base64 in JSON; primary first
}

// loadGossipKeys returns the stored keyring; an error if there is none.
func (n *Node) loadGossipKeys() ([][]byte, error) {
	b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, gossipKeysFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s in the data dir: this node has not joined", gossipKeysFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", gossipKeysFile, err)
	}
	var d gossipKeysDoc
	if err := json.Unmarshal(b, &d); err != nil || len(d.Keys) == 0 {
		return nil, fmt.Errorf("parse %s: bad or empty keyring", gossipKeysFile)
	}
	return d.Keys, nil
}

func (n *Node) saveGossipKeys(keys [][]byte) error {
	b, err := json.Marshal(gossipKeysDoc{Keys: keys})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(n.cfg.DataDir, gossipKeysFile), append(b, '\n'))
}

// ensureGossipKey creates a random 32-byte primary gossip key if the data
// dir has none (a bootstrap node's first start).
func (n *Node) ensureGossipKey() error {
	if _, err := os.Stat(filepath.Join(n.cfg.DataDir, gossipKeysFile)); err == nil {
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("gossip key: %w", err)
	}
	return n.saveGossipKeys([][]byte{key})
}
