// Package supervisor runs, restarts and stops the game-server processes of
// one node (the node-local half of fleets, docs/supervisor.md).
//
// It owns: starting a process from a Spec in its own process group, the
// allow-prefix check on the command, reserving its ports, its environment,
// restart with backoff, graceful stop (SIGTERM then SIGKILL), cgroup v2
// limits where the node may use them, CPU/memory sampling, and the
// stdout/stderr ring and rotated log files.
//
// It must not touch: replicated state, placement (which node runs which
// server), the REST API or credentials. The caller hands it a complete Spec,
// including CN_* variables such as CN_KEY, and decides what to do with its
// Events.
package supervisor

import (
	"errors"
	"log/slog"
	"time"
)

// Typed errors of Start (checked with errors.Is).
var (
	// ErrNotAllowed: the command is not absolute, or not under an Allow
	// prefix after cleaning and resolving symlinks, or the env is invalid.
	ErrNotAllowed = errors.New("supervisor: command not allowed")
	// ErrNoBinary: the command does not exist or is not an executable file.
	ErrNoBinary = errors.New("supervisor: no such executable")
	// ErrPortsExhausted: no free port is left in a PortSpec's range.
	ErrPortsExhausted = errors.New("supervisor: port range exhausted")
	// ErrExists: a server with this id is already supervised.
	ErrExists = errors.New("supervisor: server already exists")
	// ErrNotFound: no server with this id is supervised.
	ErrNotFound = errors.New("supervisor: no such server")
	// ErrClosed: the Supervisor was closed.
	ErrClosed = errors.New("supervisor: closed")
)

// Config configures a Supervisor.
type Config struct {
	// Dir is the log directory, under the node's data dir. Required.
	Dir string
	// Allow lists absolute directory prefixes (--fleet-allow). A command must
	// resolve under one of them; empty refuses everything.
	Allow []string
	// User is an optional user name or uid to run processes as. Honoured
	// only when the node runs as root; otherwise processes run as the
	// node's own user and a different User is an error of New.
	User string
	// Logger receives the supervisor's own log lines (never env values).
	Logger *slog.Logger
}

// PortSpec asks for one port from a range.
type PortSpec struct {
	Name     string // e.g. "game"; becomes CN_PORT_GAME
	Protocol string // "udp" or "tcp"
	Range    string // "7000-7999" or "7000"
}

// Spec describes one server process.
type Spec struct {
	ServerID, Tenant, Project, Fleet string
	// Command is the absolute path of the executable and its arguments.
	Command []string
	// Env is added to the process environment. Names must match
	// [A-Z_][A-Z0-9_]*. CN_* names are allowed here because the caller (the
	// node) puts CN_NODE, CN_KEY, ... in; the fleet spec's user env must be
	// filtered of CN_* by the caller. CN_PORT_<NAME> and CN_SERVER_ID,
	// CN_FLEET, CN_PROJECT are set by the supervisor and override Env.
	Env   map[string]string
	Ports []PortSpec
	// MaxRestarts bounds crash restarts; 0 means never restart a crash.
	MaxRestarts int
	// Backoff is the first restart delay, doubled each crash (capped at
	// 1 minute). 0 means 1 s.
	Backoff time.Duration
	// MemoryMB and CPUPercent are cgroup v2 limits (0 = none). CPUPercent
	// 100 is one full core.
	MemoryMB, CPUPercent int
	// ShutdownGrace is the time between SIGTERM and SIGKILL. 0 means 10 s.
	ShutdownGrace time.Duration
}

// Process states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateBackoff  = "backoff"
	StateStopped  = "stopped"
	StateExited   = "exited"
	StateFailed   = "failed"
)

// Status is a snapshot of one supervised server.
type Status struct {
	ServerID, Fleet string
	PID             int
	// State is one of starting|running|backoff|stopped|exited|failed.
	State    string
	Restarts int
	// Ports maps PortSpec.Name to the reserved port.
	Ports    map[string]int
	LastExit string
	// CPUPercent (100 = one core) and MemoryBytes (RSS of the process group
	// or the cgroup's memory.current) from the last sample.
	CPUPercent  float64
	MemoryBytes uint64
	// Limited is true when cgroup limits apply; otherwise LimitError says why
	// (only meaningful when the Spec asked for limits).
	Limited    bool
	LimitError string
	Error      string
	StartedAt  time.Time
}

// LogLine is one line of a server's stdout or stderr.
type LogLine struct {
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Text   string
}

// Event kinds.
const (
	EventStarted    = "started"
	EventExited     = "exited"
	EventRestarting = "restarting"
	EventGaveUp     = "gave_up"
	EventStopped    = "stopped"
)

// Event reports a change of a server's process.
type Event struct {
	ServerID string
	// Kind is one of started|exited|restarting|gave_up|stopped.
	Kind     string
	ExitCode int
	Err      string
}
