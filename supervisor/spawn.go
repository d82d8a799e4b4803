package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
)

// prSetNoNewPrivs is PR_SET_NO_NEW_PRIVS (linux/prctl.h).
const prSetNoNewPrivs = 38

// spawner starts every process from one locked OS thread that has
// no_new_privs set. Both attributes matter: the kernel inherits
// no_new_privs from the forking thread, and Pdeathsig fires when the
// thread that forked the child exits, not the process, so the thread must
// live as long as the supervisor (and dies with the node, which is the
// point). The goroutine is owned by the Supervisor: run until quit closes.
type spawner struct {
	reqs chan spawnReq
	quit chan struct{}
	done chan struct{}
	nnp  error // why no_new_privs could not be set, nil if it is
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	sp := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		// Never unlocked: when this goroutine returns, the runtime ends the
		// thread instead of handing a no_new_privs thread to other code.
		runtime.LockOSThread()
		defer close(sp.done)
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
			sp.nnp = fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
		}
		close(ready)
		for {
			select {
			case r := <-sp.reqs:
				r.reply <- r.cmd.Start()
			case <-sp.quit:
				return
			}
		}
	}()
	<-ready
	return sp
}

// start starts cmd on the spawner's thread.
func (sp *spawner) start(cmd *exec.Cmd) error {
	r := spawnReq{cmd: cmd, reply: make(chan error, 1)}
	select {
	case sp.reqs <- r:
		return <-r.reply
	case <-sp.done:
		return ErrClosed
	}
}

func (sp *spawner) stop() {
	close(sp.quit)
	<-sp.done
}

// credential resolves Config.User. Processes run as the node's own user
// unless the node is root and User names another; a non-root node may
// only name itself. Root with no User runs servers as root (logged).
func credential(name string) (*syscall.Credential, string, error) {
	if name == "" {
		home, _ := os.UserHomeDir()
		return nil, home, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, "", fmt.Errorf("supervisor: user %q: %w", name, err)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, "", fmt.Errorf("supervisor: user %q has a non-numeric uid or gid", name)
	}
	if os.Geteuid() != 0 {
		if uint64(os.Geteuid()) != uid {
			return nil, "", fmt.Errorf("supervisor: the node runs as uid %d and is not root: it cannot run servers as %q", os.Geteuid(), name)
		}
		return nil, u.HomeDir, nil
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, u.HomeDir, nil
}
