package testnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes a cluster to start.
type Config struct {
	// Bin is the cassnet binary.
	Bin string
	// Dir holds every node's data dir and log.
	Dir string
	// AgentArgs are extra flags given to every agent (timing knobs).
	AgentArgs []string
}

// Cluster is a set of agent processes started by this harness.
type Cluster struct {
	cfg Config

	mu         sync.Mutex
	nodes      []*Node
	joinToken  string
	adminToken string
}

// NewCluster checks cfg; it starts nothing.
func NewCluster(cfg Config) (*Cluster, error) {
	if _, err := os.Stat(cfg.Bin); err != nil {
		return nil, fmt.Errorf("cassnet binary: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	return &Cluster{cfg: cfg}, nil
}

// Nodes returns the nodes in the order they were added.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// AdminToken is the operator token the bootstrap node wrote.
func (c *Cluster) AdminToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.adminToken
}

// AddNode starts one more agent on ip. The first node bootstraps the
// cluster; later ones join through the first node's gossip address.
func (c *Cluster) AddNode(ctx context.Context, name, ip string, extra ...string) (*Node, error) {
	ports, err := FreePorts(ip)
	if err != nil {
		return nil, err
	}
	n := &Node{
		Name: name, IP: ip, Ports: ports, bin: c.cfg.Bin,
		DataDir: filepath.Join(c.cfg.Dir, name),
		logPath: filepath.Join(c.cfg.Dir, name+".log"),
	}
	args := []string{
		"--name", name, "--data-dir", n.DataDir, "--bind", ip,
		"--gossip-port", strconv.Itoa(ports.Gossip), "--raft-port", strconv.Itoa(ports.Raft),
		"--p2p-port", strconv.Itoa(ports.P2P), "--grpc-port", strconv.Itoa(ports.GRPC),
		"--http-port", strconv.Itoa(ports.HTTP), "--log-level", "debug",
	}
	args = append(args, c.cfg.AgentArgs...)
	args = append(args, extra...)
	c.mu.Lock()
	first := len(c.nodes) == 0
	var seed string
	if !first {
		seed = c.nodes[0].GossipAddr()
	}
	token := c.joinToken
	c.mu.Unlock()
	if first {
		args = append(args, "--bootstrap")
	} else {
		args = append(args, "--join", seed, "--token", token)
	}
	n.Args = args
	if err := n.start(args); err != nil {
		return nil, err
	}
	if first {
		if err := c.readTokens(ctx, n); err != nil {
			_ = n.Kill()
			return nil, err
		}
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n, nil
}

// readTokens waits for the bootstrap node to write its token files.
func (c *Cluster) readTokens(ctx context.Context, n *Node) error {
	for {
		join, jerr := os.ReadFile(filepath.Join(n.DataDir, "join-token"))
		admin, aerr := os.ReadFile(filepath.Join(n.DataDir, "admin-token"))
		if jerr == nil && aerr == nil && len(join) > 0 && len(admin) > 0 {
			c.mu.Lock()
			c.joinToken = strings.TrimSpace(string(join))
			c.adminToken = strings.TrimSpace(string(admin))
			c.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bootstrap node wrote no tokens: %w (log: %s)", ctx.Err(), n.logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if !n.Running() {
			return fmt.Errorf("bootstrap node exited (log: %s)", n.logPath)
		}
	}
}

// Shutdown kills every node that is still running.
func (c *Cluster) Shutdown() error {
	var errs []error
	for _, n := range c.Nodes() {
		if err := n.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
