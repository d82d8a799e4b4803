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
	// AgentArgs are extra flags given to every agent (timing knobs). They
	// are given again when a node restarts.
	AgentArgs []string
	// Env is extra environment ("KEY=value") for every agent, given again
	// when a node restarts (secrets such as AWS_SECRET_ACCESS_KEY, which
	// must not be flags).
	Env []string
	// Net, if set, puts every node started with Spawn in its own network
	// namespace on this network. Nil means loopback addresses.
	Net *Netns
	// Persistent nodes outlive the harness process (`cassnet testnet
	// up`). Otherwise each agent gets SIGKILL when the harness dies, so a
	// test killed by its time-out leaks no processes.
	Persistent bool
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

// AddNode starts one more agent on ip (a loopback address). The first
// node bootstraps the cluster; later ones join through the first node's
// gossip address.
func (c *Cluster) AddNode(ctx context.Context, name, ip string, extra ...string) (*Node, error) {
	ports, err := FreePorts(ip)
	if err != nil {
		return nil, err
	}
	return c.addNode(ctx, &Node{Name: name, IP: ip, Ports: ports}, extra)
}

// Spawn starts the next node, named n<k> for the k-th node of the
// cluster: in its own namespace with the default ports when the cluster
// has a Net, else on 127.0.0.<k> with free ports. Do not call it
// concurrently with itself or AddNode.
func (c *Cluster) Spawn(ctx context.Context, extra ...string) (*Node, error) {
	c.mu.Lock()
	k := len(c.nodes) + 1
	c.mu.Unlock()
	name := fmt.Sprintf("n%d", k)
	if c.cfg.Net == nil {
		if k > 254 {
			return nil, errors.New("at most 254 loopback nodes")
		}
		return c.AddNode(ctx, name, fmt.Sprintf("127.0.0.%d", k), extra...)
	}
	ns, ip, err := c.cfg.Net.AddNode(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.addNode(ctx, &Node{Name: name, IP: ip, Ports: DefaultPorts(), Netns: ns, HubVeth: HubVeth(k)}, extra)
}

func (c *Cluster) addNode(ctx context.Context, n *Node, extra []string) (*Node, error) {
	name, ip, ports := n.Name, n.IP, n.Ports
	n.bin = c.cfg.Bin
	n.persistent = c.cfg.Persistent
	n.env = c.cfg.Env
	n.DataDir = filepath.Join(c.cfg.Dir, name)
	n.logPath = filepath.Join(c.cfg.Dir, name+".log")
	n.restartArgs = append(append([]string(nil), c.cfg.AgentArgs...), extra...)
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
	// Every earlier node is a seed, so a join works while some are down.
	var seeds []string
	for _, o := range c.nodes {
		seeds = append(seeds, "--join", o.GossipAddr())
	}
	token := c.joinToken
	c.mu.Unlock()
	if first {
		args = append(args, "--bootstrap")
	} else {
		args = append(append(args, seeds...), "--token", token)
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
