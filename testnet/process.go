package testnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Node is one cassnet agent process.
type Node struct {
	Name    string
	IP      string
	DataDir string
	Ports   Ports
	// Args are the extra agent flags it was first started with.
	Args []string
	// Netns is the network namespace the node runs in ("" on loopback);
	// HubVeth is its link's end on the bridge, in the hub namespace.
	Netns   string
	HubVeth string

	bin     string
	logPath string
	// restartArgs are given again on Restart (the cluster's AgentArgs and
	// the node's extra flags).
	restartArgs []string
	persistent  bool
	env         []string // extra environment (Config.Env)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// HTTPAddr is the node's REST address.
func (n *Node) HTTPAddr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.HTTP)) }

// GossipAddr is the node's gossip address, to use as a seed.
func (n *Node) GossipAddr() string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.Gossip)) }

// LogPath is where the process's stdout and stderr go.
func (n *Node) LogPath() string { return n.logPath }

// start launches the agent with the full flag set.
func (n *Node) start(args []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.done:
			// Not stopped by the harness: it crashed or exited by itself.
			// Starting it again would hide that; its log says why.
			return fmt.Errorf("%s exited on its own (%v), not by a fault; not restarted, see %s", n.Name, n.cmd.ProcessState, n.logPath)
		default:
			return fmt.Errorf("%s is already running", n.Name)
		}
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	argv := append([]string{n.bin, "agent"}, args...)
	if n.Netns != "" {
		// ip execs the agent in place, so the process is the agent itself
		// and signals reach it directly.
		argv = append([]string{"ip", "netns", "exec", n.Netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !n.persistent {
		// ip netns exec keeps it across its exec of the agent.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all",
		"GORACE=halt_on_error=0 log_path="+filepath.Join(filepath.Dir(n.logPath), n.Name+".race"))
	cmd.Env = append(cmd.Env, n.env...)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return nil
}

// Restart starts a stopped node again with its data dir and the
// cluster's tuning flags, as an operator would: name, addresses, ports and
// the join seeds come from the data dir.
func (n *Node) Restart() error {
	return n.start(append([]string{"--data-dir", n.DataDir, "--log-level", "debug"}, n.restartArgs...))
}

// Pid is the process id, or 0 if the node is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() error { return n.signalAndWait(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to timeout. The agent stops without
// leaving: it hands over leadership but keeps its Raft seat, so Restart
// brings it back as the voter it was (a rolling restart).
func (n *Node) Stop(timeout time.Duration) error { return n.signalAndWait(syscall.SIGTERM, timeout) }

// Leave asks the agent to leave the cluster gracefully, as `cassnet leave`
// does (POST /v1/agent/leave with an operator token), and waits up to
// timeout for the process to exit. A node that comes back after leaving
// rejoins as a non-voter.
func (n *Node) Leave(ctx context.Context, cl *Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := cl.Do(ctx, http.MethodPost, n.HTTPAddr(), "/v1/agent/leave", nil)
	if err != nil {
		return fmt.Errorf("%s: leave: %w", n.Name, err)
	}
	if resp.Status != http.StatusAccepted {
		return fmt.Errorf("%s: leave: %d %s", n.Name, resp.Status, resp.Body)
	}
	if err := n.Wait(ctx); err != nil {
		_ = n.Kill()
		return fmt.Errorf("%s did not exit within %s of its leave: %w", n.Name, timeout, err)
	}
	n.clear()
	return nil
}

// Signal sends sig without waiting (SIGSTOP and SIGCONT, for pauses).
func (n *Node) Signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return errors.New("not running")
	}
	return n.cmd.Process.Signal(sig)
}

// Wait blocks until the process exits or ctx ends.
func (n *Node) Wait(ctx context.Context) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (n *Node) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		// A hung process: SIGQUIT makes Go write every goroutine's stack
		// into the node's log ("SIGQUIT: quit"), which the log checker
		// reports; then make sure it is gone.
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		n.clear()
		return fmt.Errorf("%s did not exit within %s after %s; goroutines dumped to its log (SIGQUIT) and killed", n.Name, timeout, sig)
	}
	n.clear()
	return nil
}

func (n *Node) clear() {
	n.mu.Lock()
	n.cmd, n.done = nil, nil
	n.mu.Unlock()
}
