package testnet

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// pickTarget chooses the victim of a process fault: the leader half of
// the time (when one is known), else any running node.
func pickTarget(ctx context.Context, env *FaultEnv) (*Node, string, error) {
	if env.Rand.IntN(2) == 0 {
		if l := env.leader(ctx); l != nil {
			return l, l.Name + " (leader)", nil
		}
	}
	n := env.pick(env.running())
	if n == nil {
		return nil, "", errors.New("no running node")
	}
	return n, n.Name, nil
}

// killFault sends SIGKILL and restarts the node on the same data dir.
type killFault struct {
	target *Node
	desc   string
}

func (f *killFault) Name() string              { return "kill" }
func (f *killFault) Describe() string          { return f.desc }
func (f *killFault) Available(*FaultEnv) error { return nil }

func (f *killFault) Inject(ctx context.Context, env *FaultEnv) error {
	n, desc, err := pickTarget(ctx, env)
	if err != nil {
		return err
	}
	f.target, f.desc = n, desc
	return n.Kill()
}

func (f *killFault) Heal(context.Context, *FaultEnv) error {
	if f.target == nil || f.target.Running() {
		return nil
	}
	return f.target.Restart()
}

// pauseFault freezes a node with SIGSTOP, as a VM pause or a long GC
// would, and resumes it with SIGCONT. The nemesis holds it for longer
// than the election timeout.
type pauseFault struct {
	target *Node
	desc   string
}

func (f *pauseFault) Name() string              { return "pause" }
func (f *pauseFault) Describe() string          { return f.desc }
func (f *pauseFault) Available(*FaultEnv) error { return nil }

func (f *pauseFault) Inject(ctx context.Context, env *FaultEnv) error {
	n, desc, err := pickTarget(ctx, env)
	if err != nil {
		return err
	}
	f.target, f.desc = n, desc
	return n.Signal(syscall.SIGSTOP)
}

func (f *pauseFault) Heal(context.Context, *FaultEnv) error {
	if f.target == nil || !f.target.Running() {
		return nil
	}
	return f.target.Signal(syscall.SIGCONT)
}

// leaveFault makes a node leave (POST /v1/agent/leave, as `cassnet leave`:
// it hands over leadership and leaves the Raft configuration and the
// gossip pool), and
// on heal restarts it on its data dir, so it rejoins. With voter set it
// picks a voter ("remove a voter"); otherwise it prefers a non-voter.
type leaveFault struct {
	name   string
	voter  bool
	target *Node
	desc   string
}

// leaveTimeout bounds a graceful leave; the agent's own bound is 20 s.
const leaveTimeout = 30 * time.Second

func (f *leaveFault) Name() string              { return f.name }
func (f *leaveFault) Describe() string          { return f.desc }
func (f *leaveFault) Available(*FaultEnv) error { return nil }

func (f *leaveFault) Inject(ctx context.Context, env *FaultEnv) error {
	roles, err := env.raftRoles(ctx)
	if err != nil {
		return err
	}
	var voters, others []*Node
	for _, n := range env.running() {
		if roles[n.Name] == "voter" {
			voters = append(voters, n)
		} else {
			others = append(others, n)
		}
	}
	pool := others
	if f.voter || len(pool) == 0 {
		pool = voters
	}
	n := env.pick(pool)
	if n == nil {
		return fmt.Errorf("no running node to leave among roles %v", roles)
	}
	f.target = n
	f.desc = fmt.Sprintf("%s (%s)", n.Name, roleOr(roles[n.Name], "not in raft"))
	return n.Leave(ctx, env.Client, leaveTimeout)
}

func roleOr(role, def string) string {
	if role == "" {
		return def
	}
	return role
}

func (f *leaveFault) Heal(context.Context, *FaultEnv) error {
	if f.target == nil || f.target.Running() {
		return nil
	}
	return f.target.Restart()
}

// stopFault stops a node with SIGTERM, which keeps its Raft seat (what
// systemctl restart sends), and restarts it on heal: one step of a
// rolling restart.
type stopFault struct {
	target *Node
	desc   string
}

func (f *stopFault) Name() string              { return "stop" }
func (f *stopFault) Describe() string          { return f.desc }
func (f *stopFault) Available(*FaultEnv) error { return nil }

func (f *stopFault) Inject(ctx context.Context, env *FaultEnv) error {
	n, desc, err := pickTarget(ctx, env)
	if err != nil {
		return err
	}
	f.target, f.desc = n, desc
	return n.Stop(leaveTimeout)
}

func (f *stopFault) Heal(context.Context, *FaultEnv) error {
	if f.target == nil || f.target.Running() {
		return nil
	}
	return f.target.Restart()
}

// addNodeFault starts one more node, which joins through gossip and is
// added to Raft as a non-voter by autopilot. It stays: heal does nothing.
type addNodeFault struct {
	desc string
}

func (f *addNodeFault) Name() string     { return "add-node" }
func (f *addNodeFault) Describe() string { return f.desc }

func (f *addNodeFault) Available(env *FaultEnv) error {
	if env.MaxNodes > 0 && len(env.Cluster.Nodes()) >= env.MaxNodes {
		return fmt.Errorf("the cluster already has %d nodes (the most this run adds to)", env.MaxNodes)
	}
	return nil
}

func (f *addNodeFault) Inject(ctx context.Context, env *FaultEnv) error {
	if err := f.Available(env); err != nil {
		return err
	}
	n, err := env.Cluster.Spawn(ctx)
	if err != nil {
		return err
	}
	f.desc = n.Name
	return nil
}

func (f *addNodeFault) Heal(context.Context, *FaultEnv) error { return nil }
