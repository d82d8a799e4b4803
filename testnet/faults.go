package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Fault is one kind of failure the nemesis injects and heals. A Fault
// picks its targets in Inject (with env.Rand, so a seed reproduces the
// choice) and remembers them for Heal. The nemesis calls Inject and Heal
// from one goroutine, alternately, and never calls Inject twice without a
// Heal between; Heal must be safe to call after a failed Inject.
type Fault interface {
	// Name is the name used in --faults and in reports.
	Name() string
	// Available reports why the fault cannot run in env (for example,
	// partitions need network namespaces), or nil.
	Available(env *FaultEnv) error
	// Inject breaks something.
	Inject(ctx context.Context, env *FaultEnv) error
	// Heal undoes what Inject did.
	Heal(ctx context.Context, env *FaultEnv) error
}

// Describer is implemented by faults that can say what their last Inject
// hit ("n3 (leader)", "{n1 n2} | {n3 n4 n5}"), for reports.
type Describer interface {
	Describe() string
}

// FaultEnv is what faults act on. It is used by one goroutine at a time.
type FaultEnv struct {
	Cluster *Cluster
	Client  *Client
	// Net is the cluster's network; nil on loopback.
	Net *Netns
	// Rand drives every random choice of the nemesis.
	Rand *rand.Rand
	// MaxNodes bounds add-node.
	MaxNodes int
	// Netem reports whether tc netem works on this kernel (see ProbeNetem).
	Netem error
	Log   *slog.Logger
}

// ErrNeedsNetns is returned by Available for faults that act on the
// network.
var ErrNeedsNetns = errors.New("needs network namespaces (run as root or with CAP_NET_ADMIN, with iproute2 and nftables installed)")

// Window is one fault's lifetime, on the history's monotonic clock
// (nanoseconds since the run started).
type Window struct {
	Fault  string `json:"fault"`
	Detail string `json:"detail,omitempty"`
	Start  int64  `json:"start_ns"`
	End    int64  `json:"end_ns"`
	// Err is why the inject or heal failed, if it did.
	Err string `json:"error,omitempty"`
}

// faultNames lists every fault, in the order reports list them.
var faultNames = []string{
	"kill", "pause", "stop", "leave", "add-node", "remove-voter",
	"partition-one", "partition-leader", "partition-halves", "partition-bridge", "partition-ring",
	"netem", "loss",
}

// FaultNames returns the names NewFault accepts.
func FaultNames() []string { return slices.Clone(faultNames) }

// NewFault returns the fault called name.
func NewFault(name string) (Fault, error) {
	switch name {
	case "kill":
		return &killFault{}, nil
	case "pause":
		return &pauseFault{}, nil
	case "stop":
		return &stopFault{}, nil
	case "leave":
		return &leaveFault{name: name}, nil
	case "remove-voter":
		return &leaveFault{name: name, voter: true}, nil
	case "add-node":
		return &addNodeFault{}, nil
	case "partition-one", "partition-leader", "partition-halves", "partition-bridge", "partition-ring":
		return &partitionFault{shape: strings.TrimPrefix(name, "partition-")}, nil
	case "netem":
		return &netemFault{}, nil
	case "loss":
		return &lossFault{}, nil
	}
	return nil, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(faultNames, ", "))
}

// ParseFaults turns "kill,pause,partition-halves" into faults. "all"
// means every fault.
func ParseFaults(list string) ([]Fault, error) {
	var out []Fault
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case "all":
			for _, n := range faultNames {
				f, _ := NewFault(n)
				out = append(out, f)
			}
			continue
		}
		f, err := NewFault(name)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// running returns the nodes whose process is alive, by name.
func (e *FaultEnv) running() []*Node {
	var out []*Node
	for _, n := range e.Cluster.Nodes() {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// pick returns a random element of nodes, or nil.
func (e *FaultEnv) pick(nodes []*Node) *Node {
	if len(nodes) == 0 {
		return nil
	}
	return nodes[e.Rand.IntN(len(nodes))]
}

// leader asks the running nodes who leads, for up to 5 s. It returns nil
// if no node claims leadership by then.
func (e *FaultEnv) leader(ctx context.Context) *Node {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var found *Node
	_ = WaitFor(ctx, func() error {
		for _, n := range e.running() {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			info, err := e.Client.Raft(rctx, n)
			rcancel()
			if err == nil && info.State == "Leader" {
				found = n
				return nil
			}
		}
		return errors.New("no leader")
	})
	return found
}

// raftRoles maps node name to its suffrage ("voter", "nonvoter") in the
// configuration the running nodes report (the leader's, if it answers).
// It retries for up to 5 s while no node answers.
func (e *FaultEnv) raftRoles(ctx context.Context) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var roles map[string]string
	err := WaitFor(ctx, func() error {
		roles = e.raftRolesOnce(ctx)
		if len(roles) == 0 {
			return errors.New("no running node reported a Raft configuration")
		}
		return nil
	})
	return roles, err
}

func (e *FaultEnv) raftRolesOnce(ctx context.Context) map[string]string {
	ids := map[string]string{} // raft id -> node name
	var servers map[string]string
	for _, n := range e.running() {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		info, err := e.Client.Raft(rctx, n)
		cancel()
		if err != nil {
			continue
		}
		ids[info.ID] = n.Name
		if servers == nil || info.State == "Leader" {
			servers = map[string]string{}
			for _, s := range info.Servers {
				servers[s.ID] = s.Suffrage
			}
		}
	}
	roles := map[string]string{}
	for id, suffrage := range servers {
		if name, ok := ids[id]; ok {
			roles[name] = suffrage
		}
	}
	return roles
}
