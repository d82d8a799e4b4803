package testnet

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Table names the faults install in node namespaces. Each fault owns
// one table and heals by deleting it, so faults never step on each other.
const (
	partitionTable = "cassnet_partition"
	lossTable      = "cassnet_loss"
)

// dropRules is an nftables table that drops TCP and UDP to and from the
// given peers in both directions, with probability percent/100 (100: all).
// It never names the harness's host address, so REST calls from the host
// always get through.
func dropRules(table string, peers []string, percent int) string {
	match := ""
	if percent < 100 {
		match = fmt.Sprintf(" numgen random mod 100 < %d", percent)
	}
	set := strings.Join(peers, ", ")
	return fmt.Sprintf(`table inet %[1]s {
	chain input {
		type filter hook input priority -10; policy accept;
		meta l4proto { tcp, udp } ip saddr { %[2]s }%[3]s drop
	}
	chain output {
		type filter hook output priority -10; policy accept;
		meta l4proto { tcp, udp } ip daddr { %[2]s }%[3]s drop
	}
}
`, table, set, match)
}

// nftApply loads rules into the namespace ns.
func nftApply(ctx context.Context, ns, rules string) error {
	return runCmd(ctx, []byte(rules), "ip", "netns", "exec", ns, "nft", "-f", "-")
}

// nftDelete deletes table from ns; a missing table is not an error
// (declaring it first makes the delete idempotent).
func nftDelete(ctx context.Context, ns, table string) error {
	rules := fmt.Sprintf("table inet %[1]s {}\ndelete table inet %[1]s\n", table)
	return runCmd(ctx, []byte(rules), "ip", "netns", "exec", ns, "nft", "-f", "-")
}

// partitionFault cuts the cluster in one of Jepsen's shapes with DROP
// rules inside every node's namespace, and heals by deleting them.
type partitionFault struct {
	shape string
	desc  string
}

func (f *partitionFault) Name() string     { return "partition-" + f.shape }
func (f *partitionFault) Describe() string { return f.desc }

func (f *partitionFault) Available(env *FaultEnv) error {
	if env.Net == nil {
		return ErrNeedsNetns
	}
	if f.shape == "ring" && len(env.Cluster.Nodes()) < 4 {
		return errors.New("a majorities ring needs at least 4 nodes")
	}
	return nil
}

func (f *partitionFault) Inject(ctx context.Context, env *FaultEnv) error {
	nodes := env.Cluster.Nodes()
	byName := map[string]*Node{}
	var order []string
	for _, i := range env.Rand.Perm(len(nodes)) {
		order = append(order, nodes[i].Name)
		byName[nodes[i].Name] = nodes[i]
	}
	var g Grudge
	group := func(ns []string) string { return "{" + strings.Join(ns, " ") + "}" }
	switch f.shape {
	case "one":
		g, f.desc = IsolateOne(order, order[0]), order[0]+" isolated"
	case "leader":
		l := env.leader(ctx)
		if l == nil {
			return errors.New("no leader to isolate")
		}
		g, f.desc = IsolateOne(order, l.Name), l.Name+" (leader) isolated"
	case "halves":
		m := len(order) / 2
		g, f.desc = Halves(order), group(order[:m])+" | "+group(order[m:])
	case "bridge":
		m := len(order) / 2
		g = Bridge(order)
		f.desc = fmt.Sprintf("%s <%s> %s", group(order[:m]), order[m], group(order[m+1:]))
	case "ring":
		g, f.desc = MajoritiesRing(order), "ring "+strings.Join(order, "-")+": each sees its neighbours"
	default:
		return fmt.Errorf("unknown partition shape %q", f.shape)
	}
	for name, peers := range g {
		var ips []string
		for _, p := range peers {
			ips = append(ips, byName[p].IP)
		}
		if err := nftApply(ctx, byName[name].Netns, dropRules(partitionTable, ips, 100)); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
	}
	return nil
}

func (f *partitionFault) Heal(ctx context.Context, env *FaultEnv) error {
	var errs []error
	for _, n := range env.Cluster.Nodes() {
		if err := nftDelete(ctx, n.Netns, partitionTable); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lossFault drops a share of one node's packets to and from its peers
// (nftables numgen, inside its namespace). It works on kernels without
// sch_netem.
type lossFault struct {
	target *Node
	desc   string
}

// lossPercent is the share of packets lossFault drops.
const lossPercent = 30

func (f *lossFault) Name() string     { return "loss" }
func (f *lossFault) Describe() string { return f.desc }

func (f *lossFault) Available(env *FaultEnv) error {
	if env.Net == nil {
		return ErrNeedsNetns
	}
	return nil
}

func (f *lossFault) Inject(ctx context.Context, env *FaultEnv) error {
	n := env.pick(env.Cluster.Nodes())
	var ips []string
	for _, o := range env.Cluster.Nodes() {
		if o != n {
			ips = append(ips, o.IP)
		}
	}
	f.target, f.desc = n, fmt.Sprintf("%s drops %d%% of peer packets", n.Name, lossPercent)
	return nftApply(ctx, n.Netns, dropRules(lossTable, ips, lossPercent))
}

func (f *lossFault) Heal(ctx context.Context, _ *FaultEnv) error {
	if f.target == nil {
		return nil
	}
	return nftDelete(ctx, f.target.Netns, lossTable)
}

// netemFault adds latency with jitter and packet loss to one node's link
// with tc netem, on both ends of its veth: the bridge end (traffic to the
// node) and eth0 in its namespace (traffic from it). The harness's own
// calls to that node are slowed too; they are never dropped outright.
type netemFault struct {
	target *Node
	desc   string
}

// netemArgs is the impairment: 100 ms ± 50 ms, 5 % loss.
var netemArgs = []string{"delay", "100ms", "50ms", "distribution", "normal", "loss", "5%"}

func (f *netemFault) Name() string     { return "netem" }
func (f *netemFault) Describe() string { return f.desc }

func (f *netemFault) Available(env *FaultEnv) error {
	if env.Net == nil {
		return ErrNeedsNetns
	}
	return env.Netem
}

func (f *netemFault) Inject(ctx context.Context, env *FaultEnv) error {
	n := env.pick(env.Cluster.Nodes())
	f.target, f.desc = n, n.Name+": delay 100ms±50ms, loss 5%"
	for _, link := range netemLinks(env.Net, n) {
		args := append([]string{"netns", "exec", link[0], "tc", "qdisc", "replace", "dev", link[1], "root", "netem"}, netemArgs...)
		if err := runCmd(ctx, nil, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

func (f *netemFault) Heal(ctx context.Context, env *FaultEnv) error {
	if f.target == nil {
		return nil
	}
	var errs []error
	for _, link := range netemLinks(env.Net, f.target) {
		err := runCmd(ctx, nil, "ip", "netns", "exec", link[0], "tc", "qdisc", "del", "dev", link[1], "root")
		if err != nil && !strings.Contains(err.Error(), "No such file") && !strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// netemLinks are the (namespace, device) pairs of a node's veth.
func netemLinks(net *Netns, n *Node) [][2]string {
	return [][2]string{{net.Hub, n.HubVeth}, {n.Netns, "eth0"}}
}

// ProbeNetem reports whether tc netem works here, by installing it on a
// throw-away veth pair in the hub namespace. Many container and microVM
// kernels ship without sch_netem.
func ProbeNetem(ctx context.Context, net *Netns) error {
	if net == nil {
		return ErrNeedsNetns
	}
	if _, err := exec.LookPath("tc"); err != nil {
		return fmt.Errorf("needs the tc command (apt-get install iproute2): %w", err)
	}
	if err := runCmd(ctx, nil, "ip", "-n", net.Hub, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"); err != nil {
		return err
	}
	defer func() { _ = runCmd(ctx, nil, "ip", "-n", net.Hub, "link", "delete", "probe0") }()
	if err := runCmd(ctx, nil, "ip", "netns", "exec", net.Hub, "tc", "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"); err != nil {
		return fmt.Errorf("tc netem is not supported by this kernel (no sch_netem): %w", err)
	}
	return nil
}
