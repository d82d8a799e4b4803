package supervisor

import "context"

// Supervisor supervises the server processes of one node.
//
// Concurrency contract: every method is safe for concurrent use by any
// number of goroutines. Start, Stop, Restart and Close block at most until
// their ctx is done (Stop and Close wait for the process group to be gone,
// which takes at most ShutdownGrace plus the time the kernel needs after
// SIGKILL). Status, List and Logs never block on a process. Events returns
// the same buffered channel every time; the Supervisor never blocks on it: if
// the reader falls behind by more than the buffer, the oldest events are
// dropped and counted in the logger. Events is closed by Close. A Follow
// channel is closed when its ctx is done, when the server is removed or when
// the Supervisor is closed; a slow Follow reader loses lines rather than
// slowing the process. After Close returns, no supervised process (nor any
// of its process group) is left running.
type Supervisor struct {
	impl
}

// New validates cfg and returns a Supervisor. It starts one sampling
// goroutine, stopped by Close.
func New(cfg Config) (*Supervisor, error) { return newSupervisor(cfg) }

// Start reserves a free port per PortSpec from its range (bind-checked),
// adds CN_PORT_<NAME>, CN_SERVER_ID, CN_FLEET and CN_PROJECT to the env,
// and starts the process. It returns ErrInvalidSpec, ErrNotAllowed,
// ErrNoBinary, ErrPortsExhausted or ErrExists (wrapped) without starting
// anything. It returns after the first fork and exec: the Status carries
// the PID, or, when exec itself failed (a missing interpreter, a
// directory the user may not enter), state failed and an error wrapping
// ErrNoBinary (the server stays listed, failed, until replaced or
// removed).
func (s *Supervisor) Start(ctx context.Context, spec Spec) (Status, error) {
	return s.start(ctx, spec)
}

// Stop sends SIGTERM to the process group, SIGKILL after ShutdownGrace, and
// returns when the group is gone. The server stays listed in state stopped
// (its logs remain readable) and is not restarted; Start with the same id
// after Stop replaces it.
func (s *Supervisor) Stop(ctx context.Context, serverID string) error {
	return s.stop(ctx, serverID)
}

// Kill sends SIGKILL to the process group now, without grace, and returns
// at once; the server ends in state stopped (a stopped event follows) and
// is not restarted. (A SIGKILL from outside the supervisor, e.g. `kill -9`
// or the OOM killer, is a crash and is restarted within MaxRestarts.)
func (s *Supervisor) Kill(serverID string) error { return s.kill(serverID) }

// Restart stops the process (as Stop) and starts it again with the same
// Spec and ports; it does not count against MaxRestarts and resets a failed
// or exited server.
func (s *Supervisor) Restart(ctx context.Context, serverID string) error {
	return s.restart(ctx, serverID)
}

// Status reports one server.
func (s *Supervisor) Status(serverID string) (Status, bool) { return s.status(serverID) }

// List reports every supervised server, sorted by ServerID.
func (s *Supervisor) List() []Status { return s.list() }

// Remove forgets a stopped, exited or failed server and frees its ports.
// A running server is stopped first.
func (s *Supervisor) Remove(ctx context.Context, serverID string) error {
	return s.remove(ctx, serverID)
}

// Logs answers the last n lines (n <= 0: all) of the server's ring.
func (s *Supervisor) Logs(serverID string, n int) ([]LogLine, error) { return s.logs(serverID, n) }

// Follow streams the server's new lines until ctx is done.
func (s *Supervisor) Follow(ctx context.Context, serverID string) (<-chan LogLine, error) {
	return s.follow(ctx, serverID)
}

// Events reports process changes of every server.
func (s *Supervisor) Events() <-chan Event { return s.events }

// Close stops every process (as Stop, in parallel) and the sampler. None is
// left behind when it returns nil.
func (s *Supervisor) Close(ctx context.Context) error { return s.close(ctx) }
