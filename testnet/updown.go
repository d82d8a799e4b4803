package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stateFile is where `cassnet testnet up` records what it started.
const stateFile = "testnet.json"

// UpConfig describes a cluster for `cassnet testnet up`.
type UpConfig struct {
	Bin, Dir      string
	Nodes, Voters int
	Mode          string
	AgentArgs     []string
	Log           *slog.Logger
}

// UpState is what `up` leaves in Dir/testnet.json for `status` and
// `down`, which run as later processes.
type UpState struct {
	Dir  string `json:"dir"`
	Mode string `json:"mode"`
	// AdminTokenFile holds the operator token.
	AdminTokenFile string `json:"admin_token_file"`
	// HostIP is the harness's address on the private network (netns).
	HostIP string `json:"host_ip,omitempty"`
	// Namespaces and HostVeth are removed by down (netns mode).
	Namespaces []string `json:"namespaces,omitempty"`
	HostVeth   string   `json:"host_veth,omitempty"`
	Nodes      []UpNode `json:"nodes"`
}

// UpNode is one node started by up.
type UpNode struct {
	Name    string `json:"name"`
	Pid     int    `json:"pid"`
	HTTP    string `json:"http"`
	Netns   string `json:"netns,omitempty"`
	DataDir string `json:"data_dir"`
	Log     string `json:"log"`
}

// Up starts a cluster whose processes outlive the caller, waits until it
// is ready, and records it in cfg.Dir. It refuses a Dir that already
// holds a cluster.
func Up(ctx context.Context, cfg UpConfig) (*UpState, error) {
	if _, err := os.Stat(filepath.Join(cfg.Dir, stateFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a test network; run `cassnet testnet down --dir %s` first", cfg.Dir, cfg.Dir)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Voters <= 0 {
		cfg.Voters = min(5, cfg.Nodes)
		if cfg.Voters%2 == 0 {
			cfg.Voters--
		}
	}
	tb, err := startTestbed(ctx, testbedConfig{
		Bin: cfg.Bin, Dir: filepath.Join(cfg.Dir, "nodes"), Nodes: cfg.Nodes, Voters: cfg.Voters,
		Mode: cfg.Mode, AgentArgs: append([]string{"--voters", fmt.Sprint(cfg.Voters)}, cfg.AgentArgs...),
		Persistent: true, Log: cfg.Log,
	})
	if err != nil {
		return nil, err
	}
	nodes := tb.Cluster.Nodes()
	st := &UpState{
		Dir: cfg.Dir, Mode: tb.Mode,
		AdminTokenFile: filepath.Join(nodes[0].DataDir, "admin-token"),
	}
	if tb.Net != nil {
		st.HostIP, st.Namespaces, st.HostVeth = tb.Net.HostIP(), tb.Net.Namespaces(), tb.Net.HostVeth
	}
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, UpNode{
			Name: n.Name, Pid: n.Pid(), HTTP: n.HTTPAddr(), Netns: n.Netns, DataDir: n.DataDir, Log: n.LogPath(),
		})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(cfg.Dir, stateFile), b, 0o600)
	}
	if err != nil {
		tb.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("record test network: %w", err)
	}
	return st, nil
}

// LoadState reads what up recorded in dir.
func LoadState(dir string) (*UpState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("no test network in %s (start one with `cassnet testnet up`): %w", dir, err)
	}
	var st UpState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", stateFile, err)
	}
	return &st, nil
}

// Alive reports whether n's recorded process is still its agent (the pid
// may have been reused by something else).
func (n UpNode) Alive() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.Pid))
	return err == nil && n.Pid > 0 && strings.Contains(string(b), n.DataDir)
}

// NodeStatus is one line of `cassnet testnet status`.
type NodeStatus struct {
	UpNode
	Running bool
	Raft    RaftInfo
	// AliveMembers counts the members this node sees as alive.
	AliveMembers, Members int
	Err                   string
}

// Status asks every recorded node for its Raft and gossip view.
func Status(ctx context.Context, st *UpState) ([]NodeStatus, error) {
	token, err := os.ReadFile(st.AdminTokenFile)
	if err != nil {
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	cl := NewClient(strings.TrimSpace(string(token)))
	var out []NodeStatus
	for _, n := range st.Nodes {
		s := NodeStatus{UpNode: n, Running: n.Alive()}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s.Raft, err = cl.Raft(rctx, nodeAt(n.Name, n.HTTP))
		if err == nil {
			var body struct {
				Members []struct{ Status string } `json:"members"`
			}
			resp, merr := cl.Do(rctx, http.MethodGet, n.HTTP, "/v1/members", nil)
			if merr == nil && resp.JSON(&body) == nil {
				s.Members = len(body.Members)
				for _, m := range body.Members {
					if m.Status == "alive" {
						s.AliveMembers++
					}
				}
			}
		} else {
			s.Err = err.Error()
		}
		cancel()
		out = append(out, s)
	}
	return out, nil
}

// Down kills every recorded node, removes the network namespaces and the
// state file. The data dirs and logs stay unless purge is set.
func Down(ctx context.Context, st *UpState, purge bool) error {
	var errs []error
	for _, n := range st.Nodes {
		if n.Alive() {
			_ = syscall.Kill(n.Pid, syscall.SIGCONT)
			if err := syscall.Kill(n.Pid, syscall.SIGKILL); err != nil {
				errs = append(errs, fmt.Errorf("kill %s: %w", n.Name, err))
			}
		}
	}
	for _, n := range st.Nodes {
		for i := 0; i < 50 && n.Alive(); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, ns := range st.Namespaces {
		if err := runCmd(ctx, nil, "ip", "netns", "delete", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if st.HostVeth != "" {
		_ = runCmd(ctx, nil, "ip", "link", "delete", st.HostVeth)
	}
	if err := os.Remove(filepath.Join(st.Dir, stateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if purge {
		if err := os.RemoveAll(filepath.Join(st.Dir, "nodes")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// nodeAt is a Node value for a recorded REST address, enough for Client.
func nodeAt(name, hostport string) *Node {
	host, port, _ := net.SplitHostPort(hostport)
	p, _ := strconv.Atoi(port)
	return &Node{Name: name, IP: host, Ports: Ports{HTTP: p}}
}
