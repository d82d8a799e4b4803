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
// own cgroup holds processes. Not safe for concurrent use; the Supervisor
// serialises calls under its lock.
type cgroups struct {
	base string // <mount><own>/cassnet-servers
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
	dir := filepath.Join(mount, own)
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
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return nil, fmt.Errorf("cannot move the node into %s: %w", leaf, err)
		}
		if err := enable(dir); err != nil {
			return nil, fmt.Errorf("cannot enable memory and cpu in %s: %w", dir, err)
		}
	}
	base := filepath.Join(dir, "cassnet-servers")
	if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cannot create %s: %w", base, err)
	}
	if err := enable(base); err != nil {
		return nil, fmt.Errorf("cannot enable memory and cpu in %s: %w", base, err)
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

// remove deletes a server's (empty) cgroup.
func removeCgroup(dir string) { _ = os.Remove(dir) }
