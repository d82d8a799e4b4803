package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cgroup2Magic is CGROUP2_SUPER_MAGIC.
const cgroup2Magic = 0x63677270

// cgroups creates one cgroup v2 per server under the node's own delegated
// cgroup: <own>/cassnet-servers/<server>. Because cgroup v2 lets a cgroup
// hand controllers to its children only while it holds no process itself,
// the node moves itself into the leaf <own>/cassnet-node first when its
// own cgroup holds processes (a node already in such a leaf, e.g. a second
// Supervisor in the same process or another node started in the same
// cgroup, uses the leaf's parent). Each node process gets its own
// cassnet-servers/<pid>, so nodes sharing a cgroup never share a server's
// cgroup. Not safe for concurrent use; the Supervisor serialises calls
// under its lock.
type cgroups struct {
	base string // <mount><own>/cassnet-servers/<node pid>
}

// openCgroups prepares the subtree or says why limits are unavailable.
func openCgroups(mount string) (*cgroups, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(mount, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", mount, err)
	}
	if st.Type != cgroup2Magic {
		return nil, fmt.Errorf("%s is not a cgroup v2 mount (cgroup v1 or none)", mount)
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	if filepath.Base(own) == "cassnet-node" { // moved there by an earlier New
		own = filepath.Dir(own)
	}
	return prepareCgroups(filepath.Join(mount, own), os.Getpid())
}

// prepareCgroups sets up the subtree under dir, the node's own cgroup,
// moving process pid into the leaf cassnet-node if dir's controllers
// cannot be handed down while it holds processes.
func prepareCgroups(dir string, pid int) (*cgroups, error) {
	ctrl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	for _, want := range []string{"memory", "cpu"} {
		if !hasWord(ctrl, want) {
			return nil, fmt.Errorf("the %s controller is not delegated to %s", want, dir)
		}
	}
	if err := enable(dir); err != nil {
		// The no-internal-process rule: move the node into a leaf.
		leaf := filepath.Join(dir, "cassnet-node")
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot create %s: %w", leaf, err)
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return nil, fmt.Errorf("cannot move the node into %s: %w", leaf, err)
		}
		if err := enable(dir); err != nil {
			return nil, fmt.Errorf("cannot enable memory and cpu in %s: %w", dir, err)
		}
	}
	servers := filepath.Join(dir, "cassnet-servers")
	base := filepath.Join(servers, strconv.Itoa(pid))
	for _, d := range []string{servers, base} {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot create %s: %w", d, err)
		}
		if err := enable(d); err != nil {
			return nil, fmt.Errorf("cannot enable memory and cpu in %s: %w", d, err)
		}
	}
	// The subtrees of node processes that are gone: rmdir removes only
	// empty cgroups (cgroupfs refuses the rest), so a live one stays.
	if entries, err := os.ReadDir(servers); err == nil {
		for _, e := range entries {
			n, err := strconv.Atoi(e.Name())
			if err != nil || n == pid || !e.IsDir() {
				continue
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); os.IsNotExist(err) {
				sub := filepath.Join(servers, e.Name())
				if kids, err := os.ReadDir(sub); err == nil {
					for _, k := range kids {
						if k.IsDir() {
							_ = syscall.Rmdir(filepath.Join(sub, k.Name()))
						}
					}
				}
				_ = syscall.Rmdir(sub)
			}
		}
	}
	return &cgroups{base: base}, nil
}

func enable(dir string) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +cpu"), 0)
}

func hasWord(b []byte, w string) bool {
	for _, f := range bytes.Fields(b) {
		if string(f) == w {
			return true
		}
	}
	return false
}

// ownCgroup is the node's cgroup v2 path, from /proc/self/cgroup ("0::/x").
func ownCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// create makes the server's cgroup with its limits and returns an open
// directory fd for SysProcAttr.CgroupFD (closed by the caller after
// start). memoryMB 0 and cpuPercent 0 mean no limit.
func (c *cgroups) create(id string, memoryMB, cpuPercent int) (string, *os.File, error) {
	dir := filepath.Join(c.base, id)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", nil, err
	}
	mem, cpu := "max", "max 100000"
	if memoryMB > 0 {
		mem = strconv.FormatInt(int64(memoryMB)<<20, 10)
	}
	if cpuPercent > 0 {
		cpu = strconv.Itoa(cpuPercent*1000) + " 100000" // quota per 100 ms period
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(mem), 0); err != nil {
		return "", nil, fmt.Errorf("memory.max: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(cpu), 0); err != nil {
		return "", nil, fmt.Errorf("cpu.max: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return "", nil, err
	}
	return dir, f, nil
}

// kill ends every process of a server's cgroup (cgroup.kill, Linux 5.14),
// including ones that left the process group.
func killCgroup(dir string) {
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
}

// memoryCurrent reads a server cgroup's memory.current (bytes).
func memoryCurrent(dir string) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// remove deletes a server's (empty) cgroup.
func removeCgroup(dir string) { _ = os.Remove(dir) }
