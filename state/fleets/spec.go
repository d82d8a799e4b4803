// Package fleets owns the replicated fleet specs (a command, its env,
// ports, labels, node selector, ready buffer, limits, restart and
// resources), each node's last error per fleet, and the decision, inside
// Apply, of how many new servers a fleet may get: placement is the
// command PlaceFleetServers, which creates ordinary "starting" records in
// state/servers (through servers.PlaceInTx) only while the fleet's counts
// allow. Two controllers proposing at once (a stale leader and a new one)
// therefore never overfill a fleet: the second entry sees the first.
//
// It must not start processes (package fleet and supervisor do, on each
// node), read gossip (node labels and load are the controller's, which
// proposes), or touch HTTP or Raft.
package fleets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/servers"
)

// Limits of a spec.
const (
	MaxSpecBytes   = 64 << 10
	MaxArgs        = 64
	MaxArgBytes    = 4096
	MaxEnv         = 64
	MaxEnvValue    = 4096
	MaxPorts       = 16
	MaxServers     = 10_000
	MaxBufferReady = 1000
	MaxRestarts    = 100
	MaxBackoff     = 300
	MaxGrace       = 3600
	MaxMemoryMB    = 1 << 20
	MaxCPUPercent  = 6400
	// MaxFleetsPerTenant bounds a tenant's fleets.
	MaxFleetsPerTenant = 256
	maxErrorLen        = 512
)

// Port asks each server for one port from a range, given to the process
// as CN_PORT_<NAME>.
type Port struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Range    string `json:"range"`
}

// Buffer is how many servers a fleet keeps available (starting, ready or
// reserved) beyond the allocated ones: Ready of them, or Percent of the
// allocated servers (rounded up, at least MinReady).
type Buffer struct {
	Ready    int `json:"ready,omitempty"`
	Percent  int `json:"percent,omitempty"`
	MinReady int `json:"min_ready,omitempty"`
}

// Restart is the crash-restart policy of each process.
type Restart struct {
	MaxRestarts    int `json:"max_restarts"`
	BackoffSeconds int `json:"backoff_seconds"`
}

// Resources are cgroup v2 limits per process (0: none).
type Resources struct {
	MemoryMB   int `json:"memory_mb"`
	CPUPercent int `json:"cpu_percent"`
}

// Spec is a fleet as PUT /v1/tenants/{t}/projects/{p}/fleets/{f} takes it.
type Spec struct {
	Command              []string          `json:"command"`
	Env                  map[string]string `json:"env,omitempty"`
	Ports                []Port            `json:"ports,omitempty"`
	Labels               map[string]string `json:"labels,omitempty"`
	NodeSelector         map[string]string `json:"node_selector,omitempty"`
	Buffer               Buffer            `json:"buffer"`
	MaxServers           int               `json:"max_servers"`
	MaxPerNode           int               `json:"max_per_node"`
	Restart              Restart           `json:"restart"`
	Resources            Resources         `json:"resources"`
	ShutdownGraceSeconds int               `json:"shutdown_grace_seconds"`
}

// Want is how many available servers the fleet wants while allocated of
// its servers are allocated.
func (s *Spec) Want(allocated int) int {
	if s.Buffer.Percent > 0 {
		return max(s.Buffer.MinReady, (allocated*s.Buffer.Percent+99)/100)
	}
	return s.Buffer.Ready
}

// PerNode is the most servers one node may hold (max_per_node, or
// max_servers when unset).
func (s *Spec) PerNode() int {
	if s.MaxPerNode > 0 {
		return s.MaxPerNode
	}
	return s.MaxServers
}

// Grace is the time between SIGTERM and SIGKILL.
func (s *Spec) Grace() time.Duration {
	if s.ShutdownGraceSeconds == 0 {
		return 10 * time.Second
	}
	return time.Duration(s.ShutdownGraceSeconds) * time.Second
}

// Matches reports whether a node with labels may run the fleet.
func (s *Spec) Matches(labels map[string]string) bool {
	for k, v := range s.NodeSelector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func invalid(format string, args ...any) error {
	return consensus.NewError(consensus.ErrInvalid, format, args...)
}

// ParseSpec decodes and validates a spec: unknown fields, trailing data
// and anything outside the limits are refused with an error naming the
// field.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	if len(b) > MaxSpecBytes {
		return s, invalid("spec: at most %d bytes", MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, invalid("spec: %v", err)
	}
	if dec.More() {
		return Spec{}, invalid("spec: trailing data after the object")
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Validate checks every field of s.
func (s *Spec) Validate() error {
	return consensus.FirstError(s.validateCommand(), ValidateEnv(s.Env), s.validatePorts(),
		servers.ValidateLabels("labels", s.Labels), servers.ValidateLabels("node_selector", s.NodeSelector),
		s.validateCounts())
}

func (s *Spec) validateCommand() error {
	if len(s.Command) == 0 || len(s.Command) > MaxArgs {
		return invalid("command: must hold 1 to %d arguments", MaxArgs)
	}
	path := s.Command[0]
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return invalid("command[0]: must be a clean absolute path, got %q", path)
	}
	for i, a := range s.Command {
		if len(a) > MaxArgBytes || strings.IndexByte(a, 0) >= 0 {
			return invalid("command[%d]: at most %d bytes, no NUL", i, MaxArgBytes)
		}
	}
	return nil
}

// ValidEnvName reports whether name is an environment variable name a
// fleet may set: [A-Z_][A-Z0-9_]*, at most 128 bytes.
func ValidEnvName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidateEnv checks a fleet's env: valid names, none in the CN_ space
// the node fills, values without NUL.
func ValidateEnv(env map[string]string) error {
	if len(env) > MaxEnv {
		return invalid("env: at most %d variables", MaxEnv)
	}
	for k, v := range env {
		switch {
		case !ValidEnvName(k):
			return invalid("env: name %q: must match [A-Z_][A-Z0-9_]* (at most 128 bytes)", k)
		case strings.HasPrefix(k, "CN_"):
			return invalid("env: name %q: CN_* variables are set by the node", k)
		case len(v) > MaxEnvValue || strings.IndexByte(v, 0) >= 0:
			return invalid("env: value of %q: at most %d bytes, no NUL", k, MaxEnvValue)
		}
	}
	return nil
}

// ParseRange parses "7000-7999" or "7000".
func ParseRange(r string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		b = a
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("range %q: must be PORT or LOW-HIGH within 1-65535", r)
	}
	return lo, hi, nil
}

func (s *Spec) validatePorts() error {
	if len(s.Ports) > MaxPorts {
		return invalid("ports: at most %d", MaxPorts)
	}
	seen := map[string]bool{}
	for i, p := range s.Ports {
		ok := p.Name != "" && len(p.Name) <= 32 && p.Name[0] >= 'a' && p.Name[0] <= 'z'
		for j := 0; ok && j < len(p.Name); j++ {
			c := p.Name[j]
			ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
		}
		if !ok {
			return invalid("ports[%d].name: must match [a-z][a-z0-9_]* (at most 32 bytes), got %q", i, p.Name)
		}
		if seen[p.Name] {
			return invalid("ports[%d].name: %q is used twice", i, p.Name)
		}
		seen[p.Name] = true
		if p.Protocol != "udp" && p.Protocol != "tcp" {
			return invalid("ports[%d].protocol: must be udp or tcp", i)
		}
		if _, _, err := ParseRange(p.Range); err != nil {
			return invalid("ports[%d].%v", i, err)
		}
	}
	return nil
}

func (s *Spec) validateCounts() error {
	b := s.Buffer
	switch {
	case b.Ready < 0 || b.Ready > MaxBufferReady || b.MinReady < 0 || b.MinReady > MaxBufferReady:
		return invalid("buffer: ready and min_ready must be between 0 and %d", MaxBufferReady)
	case b.Percent < 0 || b.Percent > 100:
		return invalid("buffer.percent: must be between 0 and 100")
	case b.Percent > 0 && b.Ready > 0:
		return invalid("buffer: give ready or percent, not both")
	case b.Percent == 0 && b.MinReady > 0:
		return invalid("buffer.min_ready: only with percent")
	case s.MaxServers < 1 || s.MaxServers > MaxServers:
		return invalid("max_servers: must be between 1 and %d", MaxServers)
	case s.MaxPerNode < 0 || s.MaxPerNode > s.MaxServers:
		return invalid("max_per_node: must be between 0 (max_servers) and max_servers")
	case s.Restart.MaxRestarts < 0 || s.Restart.MaxRestarts > MaxRestarts:
		return invalid("restart.max_restarts: must be between 0 and %d", MaxRestarts)
	case s.Restart.BackoffSeconds < 0 || s.Restart.BackoffSeconds > MaxBackoff:
		return invalid("restart.backoff_seconds: must be between 0 and %d", MaxBackoff)
	case s.Resources.MemoryMB < 0 || s.Resources.MemoryMB > MaxMemoryMB:
		return invalid("resources.memory_mb: must be between 0 and %d", MaxMemoryMB)
	case s.Resources.CPUPercent < 0 || s.Resources.CPUPercent > MaxCPUPercent:
		return invalid("resources.cpu_percent: must be between 0 and %d", MaxCPUPercent)
	case s.ShutdownGraceSeconds < 0 || s.ShutdownGraceSeconds > MaxGrace:
		return invalid("shutdown_grace_seconds: must be between 0 and %d", MaxGrace)
	}
	return nil
}

// Redacted is s with every env value replaced: env values may be secrets
// and are shown nowhere but to the processes (see docs/fleets.md).
func (s Spec) Redacted() Spec {
	if len(s.Env) > 0 {
		env := make(map[string]string, len(s.Env))
		for k := range s.Env {
			env[k] = RedactedValue
		}
		s.Env = env
	}
	return s
}

// RedactedValue stands for an env value in every answer.
const RedactedValue = "[redacted]"
