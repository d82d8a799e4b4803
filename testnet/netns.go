package testnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Namespace names are <prefix><owner pid>-<run id>-<hub|node name>.
// nsPrefix marks a network that dies with the process that made it, so
// Sweep may delete it once that process is gone; upPrefix marks one made
// by `cassnet testnet up`, which outlives its creator and only `down`
// removes.
const (
	nsPrefix = "cnt-"
	upPrefix = "cnu-"
)

// Netns is a private network for one cluster: a hub namespace holding a
// bridge, one namespace per node joined to the bridge by a veth pair, and
// a veth from the host into the bridge that carries the harness's own
// traffic. Faults act only inside the node namespaces (nftables) and on
// the node veths (tc), so the host address is never cut.
//
// The bridge lives in its own namespace rather than on the host so that
// the host's firewall (for example Docker's FORWARD DROP policy applied to
// bridged traffic through br_netfilter) never sees node-to-node packets,
// and the harness changes nothing in the host's own netfilter state.
//
// A Netns is safe for concurrent use.
type Netns struct {
	// RunID is the random part of every name, unique per run.
	RunID string
	// Hub is the namespace of the bridge.
	Hub string
	// HostVeth is the host end of the host-to-bridge link.
	HostVeth string
	// Prefix is the first three octets of the /24, e.g. "10.213.7".
	Prefix string

	nsPrefix string

	mu    sync.Mutex
	nodes map[string]string // node name -> namespace
	next  int
}

// HostIP is the harness's address on the private network. No fault ever
// drops traffic from or to it.
func (n *Netns) HostIP() string { return n.Prefix + ".1" }

// NetnsAvailable reports why network namespaces cannot be used here, or
// nil if they can: it needs root (or CAP_NET_ADMIN) and the ip and nft
// commands.
func NetnsAvailable() error {
	if os.Geteuid() != 0 && !hasCapNetAdmin() {
		return errors.New("needs root or CAP_NET_ADMIN")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("needs the %s command (apt-get install iproute2 nftables): %w", bin, err)
		}
	}
	return nil
}

// hasCapNetAdmin reads CapEff from /proc/self/status (bit 12).
func hasCapNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<12) != 0
		}
	}
	return false
}

// NewNetns creates the hub namespace, its bridge and the host link on a
// free 10.213.X.0/24. It first removes namespaces that earlier runs
// leaked (see Sweep). A persistent network outlives this process (for
// `cassnet testnet up`) and is never swept. On error it removes whatever
// it created.
func NewNetns(ctx context.Context, persistent bool) (_ *Netns, err error) {
	if err := NetnsAvailable(); err != nil {
		return nil, err
	}
	_ = Sweep(ctx)
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("netns: run id: %w", err)
	}
	runID := hex.EncodeToString(id)
	prefix, err := freeSubnet(ctx, id[0])
	if err != nil {
		return nil, err
	}
	n := &Netns{
		RunID: runID, HostVeth: "cn" + runID + "h", Prefix: prefix,
		nsPrefix: nsPrefix, nodes: map[string]string{},
	}
	if persistent {
		n.nsPrefix = upPrefix
	}
	n.Hub = fmt.Sprintf("%s%d-%s-hub", n.nsPrefix, os.Getpid(), runID)
	defer func() {
		if err != nil {
			_ = n.Close(context.WithoutCancel(ctx))
		}
	}()
	steps := [][]string{
		{"netns", "add", n.Hub},
		{"-n", n.Hub, "link", "set", "lo", "up"},
		{"-n", n.Hub, "link", "add", "br0", "type", "bridge"},
		{"-n", n.Hub, "link", "set", "br0", "up"},
		{"link", "add", n.HostVeth, "type", "veth", "peer", "name", "host", "netns", n.Hub},
		{"-n", n.Hub, "link", "set", "host", "master", "br0", "up"},
		{"addr", "add", n.HostIP() + "/24", "dev", n.HostVeth},
		{"link", "set", n.HostVeth, "up"},
	}
	for _, s := range steps {
		if err := runCmd(ctx, nil, "ip", s...); err != nil {
			return nil, fmt.Errorf("netns setup: %w", err)
		}
	}
	return n, nil
}

// freeSubnet picks 10.213.X with X not already routed on the host,
// starting from a random X.
func freeSubnet(ctx context.Context, start byte) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-4", "route", "show").Output()
	if err != nil {
		return "", fmt.Errorf("netns: list routes: %w", err)
	}
	for i := range 256 {
		prefix := fmt.Sprintf("10.213.%d", (int(start)+i)%256)
		if !strings.Contains(string(out), prefix+".") {
			return prefix, nil
		}
	}
	return "", errors.New("netns: no free 10.213.X.0/24")
}

// AddNode creates the namespace of a new node, links it to the bridge and
// returns its namespace and address. The node's interface inside its
// namespace is eth0; the bridge end is v<k> in the hub.
func (n *Netns) AddNode(ctx context.Context, name string) (ns, ip string, err error) {
	n.mu.Lock()
	n.next++
	k := n.next
	ns = fmt.Sprintf("%s%d-%s-%s", n.nsPrefix, os.Getpid(), n.RunID, name)
	n.nodes[name] = ns
	n.mu.Unlock()
	if k > 240 {
		return "", "", errors.New("netns: at most 240 nodes")
	}
	ip = fmt.Sprintf("%s.%d", n.Prefix, 10+k)
	peer := "v" + strconv.Itoa(k)
	steps := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", n.Hub},
		{"-n", n.Hub, "link", "set", peer, "master", "br0", "up"},
		{"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := runCmd(ctx, nil, "ip", s...); err != nil {
			return "", "", fmt.Errorf("netns: add %s: %w", name, err)
		}
	}
	return ns, ip, nil
}

// HubVeth is the bridge end of node k's link (k counts from 1 in the
// order AddNode was called), where netem shapes traffic towards the node.
func HubVeth(k int) string { return "v" + strconv.Itoa(k) }

// Namespaces lists the node namespaces, then the hub.
func (n *Netns) Namespaces() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.nodes)+1)
	for _, ns := range n.nodes {
		out = append(out, ns)
	}
	return append(out, n.Hub)
}

// Close deletes every namespace of this network (which removes the
// bridge and every veth with them) and the host link. Processes still
// running inside keep their namespace alive until they exit, so stop the
// nodes first.
func (n *Netns) Close(ctx context.Context) error {
	var errs []error
	for _, ns := range n.Namespaces() {
		if err := runCmd(ctx, nil, "ip", "netns", "delete", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	// The host end goes with its peer; delete it explicitly in case the
	// hub was never created.
	_ = runCmd(ctx, nil, "ip", "link", "delete", n.HostVeth)
	return errors.Join(errs...)
}

// runCmd runs name with args, feeding stdin if non-nil, and returns an
// error that includes the command's output.
func runCmd(ctx context.Context, stdin []byte, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
