package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary act as a node (helperNode) for
// TestChildrenDieWithTheNode.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SUPERVISOR_HELPER_NODE"); dir != "" {
		helperNode(dir)
		return
	}
	os.Exit(m.Run())
}

// helperNode supervises one idle server, prints its PID and blocks until
// it is killed.
func helperNode(dir string) {
	s, err := New(Config{Dir: filepath.Join(dir, "logs"), Allow: []string{dir}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	st, err := s.Start(context.Background(), Spec{ServerID: "orphan", Command: []string{filepath.Join(dir, "idle.sh")}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	time.Sleep(200 * time.Millisecond) // the script starts its child
	fmt.Println("PID", st.PID)
	select {}
}

func TestChildrenDieWithTheNode(t *testing.T) {
	dir := t.TempDir()
	// The leader gets Pdeathsig; its child does not, and is orphaned.
	script(t, dir, "idle.sh", `sleep 1000 &
echo "child $!" > "$0.child"
wait`)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	node := exec.Command(self, "-test.run=^$")
	node.Env = append(os.Environ(), "SUPERVISOR_HELPER_NODE="+dir)
	out, _ := node.StdoutPipe()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "PID ")))
	if err != nil || !alive(pid) {
		_ = node.Process.Kill()
		t.Fatalf("helper said %q", line)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "idle.sh.child"))
	child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(b), "child ")))
	if child <= 1 || !alive(child) {
		_ = node.Process.Kill()
		t.Fatalf("child %q", b)
	}
	_ = node.Process.Kill() // the node dies without stopping anything
	_ = node.Wait()
	waitFor(t, "the server to die with its node", func() bool { return !alive(pid) })
	if !alive(child) {
		t.Log("the orphaned child died too") // it may, if its parent's death took it
	}
	// The next run of the node kills what the last one left.
	s, err := New(Config{Dir: filepath.Join(dir, "logs"), Allow: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	waitFor(t, "the orphan to be killed by the next run", func() bool { return !alive(child) })
	if _, err := os.Stat(filepath.Join(dir, "logs", runningFile)); !os.IsNotExist(err) {
		t.Errorf("running file after New: %v", err)
	}
}

func TestRunsAsConfiguredUser(t *testing.T) {
	if os.Geteuid() != 0 {
		// A non-root node may only name itself.
		if _, err := New(Config{Dir: t.TempDir(), User: "root"}); err == nil {
			t.Error("a non-root node accepted User root")
		}
		t.Skip("needs root to switch users")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	bin, err := os.MkdirTemp("", "sup-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bin) })
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: t.TempDir(), Allow: []string{bin}, User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	cmd := script(t, bin, "whoami.sh", `echo "uid=$(id -u) gid=$(id -g)"; exec sleep 1000`)
	st, err := s.Start(context.Background(), Spec{ServerID: "u", Command: []string{cmd}})
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, s, "u", "uid="+nobody.Uid+" gid="+nobody.Gid)
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.PID))
	if !strings.Contains(string(b), "NoNewPrivs:\t1") {
		t.Error("no_new_privs not set")
	}
	if err := s.Stop(context.Background(), "u"); err != nil {
		t.Fatal(err)
	}
}
