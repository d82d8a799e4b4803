package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Spec.
const (
	defaultBackoff = time.Second
	maxBackoff     = time.Minute
	defaultGrace   = 10 * time.Second
	reapGrace      = 5 * time.Second // leftovers of an exited leader, after SIGKILL
)

// proc is one supervised server. Its supervise goroutine owns the process;
// other goroutines only read the status and close stopCh/killCh.
type proc struct {
	spec Spec
	path string // resolved command
	logs *sink

	stopOnce, killOnce sync.Once
	stopCh, killCh     chan struct{}
	done               chan struct{} // closed when the supervise goroutine ends
	spawned            chan struct{} // closed after the first start attempt
	spawnOnce          sync.Once

	mu       sync.Mutex
	st       Status
	pgid     int
	cgDir    string // the running process's cgroup, "" without limits
	terminal bool   // stopped, exited or failed: set by finish
	startErr error  // why the last start failed (fork, exec, chdir)
}

func (p *proc) requestStop() { p.stopOnce.Do(func() { close(p.stopCh) }) }
func (p *proc) requestKill() { p.requestStop(); p.killOnce.Do(func() { close(p.killCh) }) }

func (p *proc) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Ports = make(map[string]int, len(p.st.Ports))
	for k, v := range p.st.Ports {
		st.Ports[k] = v
	}
	return st
}

// finished reports whether p reached a terminal state. It is true from
// just before the terminal event is emitted, so a caller reacting to that
// event may Start the id again at once.
func (p *proc) finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.terminal
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pgid
}

func (p *proc) update(f func(st *Status)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}

// setUsage records a sample. With a cgroup, memory is its memory.current
// (which counts page cache and every process, even ones that left the
// group); otherwise the RSS summed over the process group.
func (p *proc) setUsage(cpu float64, rss uint64) {
	p.mu.Lock()
	dir := p.cgDir
	p.mu.Unlock()
	if dir != "" {
		if m, ok := memoryCurrent(dir); ok {
			rss = m
		}
	}
	p.update(func(st *Status) { st.CPUPercent, st.MemoryBytes = cpu, rss })
}

func (p *proc) stopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return false
	}
}

// environ is the process environment: a minimal base (never the node's
// own environment), then spec.Env, then what the supervisor sets.
func (s *impl) environ(p *proc) []string {
	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	if s.home != "" {
		env["HOME"] = s.home
	}
	for k, v := range p.spec.Env {
		env[k] = v
	}
	env["CN_SERVER_ID"] = p.spec.ServerID
	if p.spec.Fleet != "" {
		env["CN_FLEET"] = p.spec.Fleet
	}
	if p.spec.Project != "" {
		env["CN_PROJECT"] = p.spec.Project
	}
	for name, port := range p.st.Ports {
		k, _ := portEnv(name)
		env[k] = strconv.Itoa(port)
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// supervise runs p until it exits cleanly, is stopped, or gives up.
func (s *impl) supervise(p *proc) {
	defer s.wg.Done()
	defer close(p.done)
	defer p.spawnOnce.Do(func() { close(p.spawned) })
	backoff := p.spec.Backoff
	if backoff <= 0 {
		backoff = defaultBackoff
	}
	id := p.spec.ServerID
	for {
		code, exitMsg, err := s.runOnce(p)
		if err != nil { // could not start: nothing to retry into
			p.mu.Lock()
			p.startErr = err
			p.mu.Unlock()
			s.finish(p, StateFailed, err.Error())
			s.emit(Event{ServerID: id, Kind: EventGaveUp, ExitCode: -1, Err: err.Error()})
			return
		}
		switch {
		case p.stopping():
			s.finish(p, StateStopped, "")
			s.emit(Event{ServerID: id, Kind: EventStopped, ExitCode: code})
			return
		case code == 0:
			s.finish(p, StateExited, "")
			s.emit(Event{ServerID: id, Kind: EventExited, ExitCode: 0})
			return
		}
		p.mu.Lock()
		restarts := p.st.Restarts
		p.mu.Unlock()
		if restarts >= p.spec.MaxRestarts {
			msg := fmt.Sprintf("%s; gave up after %d restarts", exitMsg, restarts)
			s.finish(p, StateFailed, msg)
			s.emit(Event{ServerID: id, Kind: EventGaveUp, ExitCode: code, Err: msg})
			return
		}
		s.emit(Event{ServerID: id, Kind: EventExited, ExitCode: code, Err: exitMsg})
		delay := min(backoff<<min(restarts, 16), maxBackoff)
		p.update(func(st *Status) { st.State, st.Restarts, st.PID = StateBackoff, restarts+1, 0 })
		s.emit(Event{ServerID: id, Kind: EventRestarting, ExitCode: code, Err: exitMsg})
		s.log.Info("game server crashed; restarting", "server", id, "exit", exitMsg, "in", delay, "restart", restarts+1)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.stopCh:
			t.Stop()
			s.finish(p, StateStopped, "")
			s.emit(Event{ServerID: id, Kind: EventStopped, ExitCode: code})
			return
		}
	}
}

// finish records a terminal state and frees the server's ports. The
// ports go before terminal is set: a Start that sees terminal (under
// s.mu) then reserves ports this call can no longer release.
func (s *impl) finish(p *proc, state, errMsg string) {
	p.mu.Lock()
	p.st.State, p.st.PID, p.st.Error, p.st.CPUPercent, p.st.MemoryBytes = state, 0, errMsg, 0, 0
	p.pgid = 0
	p.mu.Unlock()
	s.mu.Lock()
	if s.procs[p.spec.ServerID] == p {
		releasePorts(s.ports, p.spec.ServerID)
	}
	s.writeRunning()
	p.mu.Lock()
	p.terminal = true
	p.mu.Unlock()
	s.mu.Unlock()
}

// runOnce starts the process, waits for it (handling stop and kill), and
// makes sure its process group is gone. It answers the exit code (128+n
// for signal n) and a description, or the error that prevented a start.
func (s *impl) runOnce(p *proc) (int, string, error) {
	cmd, cgDir, cgFile := s.command(p)
	closeCg := func() {
		if cgFile != nil {
			_ = cgFile.Close()
			cgFile = nil
		}
	}
	defer closeCg()
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, "", err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return 0, "", err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if p.stopping() {
		for _, f := range []*os.File{outR, outW, errR, errW} {
			_ = f.Close()
		}
		return 0, "stopped before start", nil
	}
	err = s.sp.start(cmd)
	closeCg()
	if err != nil && cgDir != "" {
		// Starting into a cgroup needs clone3 (Linux 5.7+, not blocked by
		// seccomp): without it, run unlimited and say why.
		removeCgroup(cgDir)
		cgDir = ""
		why := "cgroup: starting into the server's cgroup failed: " + err.Error()
		cmd = s.plainCommand(p, cmd.Env)
		cmd.Stdout, cmd.Stderr = outW, errW
		p.update(func(st *Status) { st.Limited, st.LimitError = false, why })
		err = s.sp.start(cmd)
	}
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if cgDir != "" {
			removeCgroup(cgDir)
		}
		return 0, "", fmt.Errorf("start %s: %w", p.spec.Command[0], err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.logs.read(outR, "stdout"); outR.Close() }()
	go func() { defer readers.Done(); p.logs.read(errR, "stderr"); errR.Close() }()
	pgid := cmd.Process.Pid
	if pgid <= 1 { // never signal -0 or -1
		return 0, "", fmt.Errorf("start %s: impossible pid %d", p.spec.Command[0], pgid)
	}
	p.mu.Lock()
	p.pgid, p.cgDir = pgid, cgDir
	p.st.PID, p.st.State, p.st.StartedAt, p.st.LastExit = pgid, StateRunning, time.Now(), ""
	p.mu.Unlock()
	s.mu.Lock()
	s.writeRunning()
	s.mu.Unlock()
	p.spawnOnce.Do(func() { close(p.spawned) })
	s.emit(Event{ServerID: p.spec.ServerID, Kind: EventStarted})
	s.log.Info("game server started", "server", p.spec.ServerID, "pid", pgid, "command", p.spec.Command[0])

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killGroup := func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if cgDir != "" {
			killCgroup(cgDir)
		}
	}
	var werr error
	select {
	case werr = <-exited:
	case <-p.stopCh:
		grace := p.spec.ShutdownGrace
		if grace <= 0 {
			grace = defaultGrace
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case werr = <-exited:
			// The leader is gone; the rest of its group gets the rest of
			// the grace, then the SIGKILL below.
			for wait := 5 * time.Millisecond; !groupGone(pgid) && !fired(t.C) && !closed(p.killCh); wait = min(2*wait, 200*time.Millisecond) {
				time.Sleep(wait)
			}
		case <-t.C:
			killGroup()
			werr = <-exited
		case <-p.killCh:
			killGroup()
			werr = <-exited
		}
		t.Stop()
	}
	killGroup() // leftovers of the group never outlive the leader
	if !waitGroupGone(pgid, time.Now().Add(reapGrace)) {
		s.log.Warn("game server process group outlived SIGKILL", "server", p.spec.ServerID, "pgid", pgid)
	}
	if cgDir != "" {
		removeCgroup(cgDir)
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select { // leftovers that escaped the group may hold the pipes
	case <-done:
	case <-time.After(time.Second):
	}
	code, msg := exitCode(werr, cmd.ProcessState)
	p.mu.Lock()
	p.st.LastExit, p.pgid, p.cgDir = msg, 0, ""
	p.mu.Unlock()
	return code, msg, nil
}

func exitCode(err error, ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, fmt.Sprint(err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), "signal: " + ws.Signal().String()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || err == nil {
		return ps.ExitCode(), "exit status " + strconv.Itoa(ps.ExitCode())
	}
	return ps.ExitCode(), err.Error()
}

// command builds the exec.Cmd of one run: own process group, SIGKILL
// when the node dies, the configured user, and the server's cgroup.
func (s *impl) command(p *proc) (*exec.Cmd, string, *os.File) {
	p.mu.Lock()
	env := s.environ(p)
	p.mu.Unlock()
	cmd := s.plainCommand(p, env)
	limited, why := false, ""
	var cgDir string
	var cgFile *os.File
	if p.spec.MemoryMB > 0 || p.spec.CPUPercent > 0 {
		if s.cg == nil {
			why = s.cgErr
		} else {
			s.mu.Lock()
			dir, f, err := s.cg.create(p.spec.ServerID, p.spec.MemoryMB, p.spec.CPUPercent)
			s.mu.Unlock()
			if err != nil {
				why = "cgroup: " + err.Error()
			} else {
				cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
				limited, cgDir, cgFile = true, dir, f // open until started
			}
		}
	}
	p.update(func(st *Status) { st.Limited, st.LimitError = limited, why })
	return cmd, cgDir, cgFile
}

// plainCommand is a run's exec.Cmd without a cgroup: its own process
// group, SIGKILL when the node dies, the configured user, and the
// binary's directory as its working directory.
func (s *impl) plainCommand(p *proc, env []string) *exec.Cmd {
	cmd := &exec.Cmd{Path: p.path, Args: p.spec.Command, Dir: filepath.Dir(p.path), Env: env}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	return cmd
}

// fired reports whether a timer channel has fired (consuming the tick).
func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
