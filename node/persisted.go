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

// persisted is the part of the configuration a node remembers in
// DataDir/node.json, so that it restarts with only --data-dir.
type persisted struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Bind       string   `json:"bind"`
	Advertise  string   `json:"advertise,omitempty"`
	HTTPBind   string   `json:"http_bind,omitempty"`
	GossipPort int      `json:"gossip_port"`
	RaftPort   int      `json:"raft_port"`
	P2PPort    int      `json:"p2p_port"`
	GRPCPort   int      `json:"grpc_port"`
	HTTPPort   int      `json:"http_port"`
	Join       []string `json:"join,omitempty"`
	Voters     int      `json:"voters"`
	HTTPTLS    bool     `json:"http_tls,omitempty"`
	HTTPCert   string   `json:"http_tls_cert,omitempty"`
	HTTPKey    string   `json:"http_tls_key,omitempty"`
	TLSCA      string   `json:"tls_ca,omitempty"`
	TLSCert    string   `json:"tls_cert,omitempty"`
	TLSKey     string   `json:"tls_key,omitempty"`
}

const (
	nodeFile       = "node.json"
	adminTokenFile = "admin-token"
	joinTokenFile  = "join-token"
)

// mergePersisted fills the fields the operator did not set explicitly
// (explicit[flagName]) from node.json, and returns the node's ID.
func mergePersisted(cfg *Config, explicit map[string]bool) (string, error) {
	var p persisted
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, nodeFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read %s: %w", nodeFile, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("parse %s: %w", nodeFile, err)
	}
	take := func(flag string, set func()) {
		if !explicit[flag] {
			set()
		}
	}
	take("name", func() { cfg.Name = p.Name })
	take("bind", func() { cfg.Bind = p.Bind })
	take("advertise", func() { cfg.Advertise = p.Advertise })
	take("http-bind", func() { cfg.HTTPBind = p.HTTPBind })
	take("gossip-port", func() { cfg.GossipPort = p.GossipPort })
	take("raft-port", func() { cfg.RaftPort = p.RaftPort })
	take("p2p-port", func() { cfg.P2PPort = p.P2PPort })
	take("grpc-port", func() { cfg.GRPCPort = p.GRPCPort })
	take("http-port", func() { cfg.HTTPPort = p.HTTPPort })
	take("join", func() { cfg.Join = p.Join })
	take("voters", func() { cfg.Voters = p.Voters })
	take("http-tls", func() { cfg.HTTPTLS = p.HTTPTLS })
	take("http-tls-cert", func() { cfg.HTTPTLSCert = p.HTTPCert })
	take("http-tls-key", func() { cfg.HTTPTLSKey = p.HTTPKey })
	take("tls-ca", func() { cfg.TLSCA = p.TLSCA })
	take("tls-cert", func() { cfg.TLSCert = p.TLSCert })
	take("tls-key", func() { cfg.TLSKey = p.TLSKey })
	if explicit["name"] && p.Name != "" && cfg.Name != p.Name {
		return "", fmt.Errorf("--name %q differs from the name %q this data dir belongs to", cfg.Name, p.Name)
	}
	return p.ID, nil
}

func savePersisted(cfg *Config, id string) error {
	p := persisted{
		ID: id, Name: cfg.Name, Bind: cfg.Bind, Advertise: cfg.Advertise, HTTPBind: cfg.HTTPBind,
		GossipPort: cfg.GossipPort, RaftPort: cfg.RaftPort, P2PPort: cfg.P2PPort,
		GRPCPort: cfg.GRPCPort, HTTPPort: cfg.HTTPPort, Join: cfg.Join, Voters: cfg.Voters,
		HTTPTLS: cfg.HTTPTLS, HTTPCert: cfg.HTTPTLSCert, HTTPKey: cfg.HTTPTLSKey, TLSCA: cfg.TLSCA, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey,
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(cfg.DataDir, nodeFile), append(b, '\n'))
}

// writeFileAtomic writes data with mode 0600 through a temporary file and
// a rename, so a crash never leaves a torn file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readSecretFile returns the trimmed contents of a token file, or "" if
// it does not exist.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b), nil
}

// newNodeID returns a random UUIDv4-formatted identifier.
func newNodeID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
