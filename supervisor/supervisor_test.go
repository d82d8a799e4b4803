package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTest returns a Supervisor allowing a fresh temp dir, and that dir.
func newTest(t *testing.T) (*Supervisor, string) {
	t.Helper()
	bin := t.TempDir()
	s, err := New(Config{Dir: t.TempDir(), Allow: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, bin
}

// script writes an executable /bin/sh script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func waitState(t *testing.T, s *Supervisor, id, state string) Status {
	t.Helper()
	var st Status
	waitFor(t, id+" "+state, func() bool { st, _ = s.Status(id); return st.State == state })
	return st
}

func waitLog(t *testing.T, s *Supervisor, id, text string) {
	t.Helper()
	waitFor(t, "log line "+text, func() bool {
		lines, _ := s.Logs(id, 0)
		for _, l := range lines {
			if strings.Contains(l.Text, text) {
				return true
			}
		}
		return false
	})
}

// groupMembers lists live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	var out []int
	names, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		if state, pg, _, _, ok := procStat(b); ok && pg == pgid && state != 'Z' {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(n)))
			out = append(out, pid)
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	state, _, _, _, ok := procStat(b)
	return ok && state != 'Z'
}

// freeRange answers n consecutive ports that bind now for proto, from a
// random place below the usual ephemeral range (so that other tests'
// ephemeral sockets rarely take them meanwhile).
func freeRange(t *testing.T, proto string, n int) (int, int) {
	t.Helper()
	for try := 0; try < 100; try++ {
		lo := 20000 + rand.IntN(12000)
		ok := true
		for p := lo; p < lo+n && ok; p++ {
			ok = bindable(proto, p)
		}
		if ok {
			return lo, lo + n - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

func rng(lo, hi int) string { return strconv.Itoa(lo) + "-" + strconv.Itoa(hi) }

func TestEnvPortsAndPrivileges(t *testing.T) {
	s, bin := newTest(t)
	t.Setenv("NODE_SECRET", "leak")
	cmd := script(t, bin, "env.sh", `echo "port=$CN_PORT_GAME q=$CN_PORT_QUERY_PORT id=$CN_SERVER_ID fleet=$CN_FLEET map=$MAP key=$CN_KEY secret=$NODE_SECRET"
grep NoNewPrivs /proc/self/status
echo "err" >&2
exec sleep 1000`)
	glo, ghi := freeRange(t, "udp", 10)
	qlo, qhi := freeRange(t, "tcp", 10)
	st, err := s.Start(context.Background(), Spec{ServerID: "s1", Fleet: "arena", Project: "p", Command: []string{cmd},
		Env:   map[string]string{"MAP": "dust", "CN_KEY": "cnk_x", "CN_SERVER_ID": "forged"},
		Ports: []PortSpec{{Name: "game", Protocol: "udp", Range: rng(glo, ghi)}, {Name: "query-port", Protocol: "tcp", Range: rng(qlo, qhi)}}})
	if err != nil {
		t.Fatal(err)
	}
	g, q := st.Ports["game"], st.Ports["query-port"]
	if g < glo || g > ghi || q < qlo || q > qhi {
		t.Fatalf("ports %v", st.Ports)
	}
	want := fmt.Sprintf("port=%d q=%d id=s1 fleet=arena map=dust key=cnk_x secret=", g, q)
	waitLog(t, s, "s1", want)
	waitLog(t, s, "s1", "NoNewPrivs:\t1")
	waitFor(t, "a stderr line", func() bool {
		lines, _ := s.Logs("s1", 0)
		for _, l := range lines {
			if l.Stream == "stderr" && l.Text == "err" {
				return true
			}
		}
		return false
	})
	st = waitState(t, s, "s1", StateRunning)
	if st.PID == 0 || st.StartedAt.IsZero() || st.Fleet != "arena" {
		t.Errorf("status %+v", st)
	}
	if _, err := s.Start(context.Background(), Spec{ServerID: "s1", Command: []string{cmd}}); !errors.Is(err, ErrExists) {
		t.Errorf("second start: %v, want ErrExists", err)
	}
	if ls := s.List(); len(ls) != 1 || ls[0].ServerID != "s1" {
		t.Errorf("list %+v", ls)
	}
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	s, bin := newTest(t)
	// Children and a grandchild, all ignoring nothing; the leader waits.
	cmd := script(t, bin, "tree.sh", `sleep 1000 & echo "child $!"
sh -c 'sleep 1000 & echo "grandchild $!"; wait' &
echo "child $!"
wait`)
	st, err := s.Start(context.Background(), Spec{ServerID: "tree", Command: []string{cmd}, ShutdownGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, s, "tree", "grandchild")
	var pids []int
	lines, _ := s.Logs("tree", 0)
	for _, l := range lines {
		if _, p, ok := strings.Cut(l.Text, " "); ok {
			n, _ := strconv.Atoi(p)
			pids = append(pids, n)
		}
	}
	if len(pids) != 3 || len(groupMembers(st.PID)) < 4 {
		t.Fatalf("pids %v, group %v", pids, groupMembers(st.PID))
	}
	if err := s.Stop(context.Background(), "tree"); err != nil {
		t.Fatal(err)
	}
	if m := groupMembers(st.PID); len(m) != 0 {
		t.Errorf("group %d still has %v", st.PID, m)
	}
	for _, p := range append(pids, st.PID) {
		if alive(p) {
			t.Errorf("pid %d survived Stop", p)
		}
	}
	if st, _ := s.Status("tree"); st.State != StateStopped || st.PID != 0 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestGraceThenSIGKILL(t *testing.T) {
	s, bin := newTest(t)
	stubborn := script(t, bin, "stubborn.sh", `trap 'echo got TERM' TERM
echo up
while :; do sleep 0.05; done`)
	polite := script(t, bin, "polite.sh", `trap 'exit 0' TERM
echo up
while :; do sleep 0.05; done`)
	for _, c := range []struct {
		cmd, exit string
		min       time.Duration
	}{{stubborn, "signal: killed", 400 * time.Millisecond}, {polite, "exit status 0", 0}} {
		id := strings.TrimSuffix(filepath.Base(c.cmd), ".sh")
		if _, err := s.Start(context.Background(), Spec{ServerID: id, Command: []string{c.cmd}, ShutdownGrace: 400 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		waitLog(t, s, id, "up")
		began := time.Now()
		if err := s.Stop(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d < c.min || d > 10*time.Second {
			t.Errorf("%s: stop took %v, want at least %v", id, d, c.min)
		}
		// The polite one exited from its TERM trap, the stubborn one was
		// SIGKILLed after the grace.
		if st, _ := s.Status(id); st.State != StateStopped || st.LastExit != c.exit {
			t.Errorf("%s: %+v, want last exit %q", id, st, c.exit)
		}
	}
}

// events collects the events of one server until kind arrives.
func events(t *testing.T, s *Supervisor, id, until string) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-s.Events():
			if e.ServerID != id {
				continue
			}
			got = append(got, e.Kind)
			if e.Kind == until {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s event; got %v", until, got)
		}
	}
}

func TestCrashRestartsWithBackoffThenGivesUp(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "crash.sh", `echo crash; exit 3`)
	began := time.Now()
	if _, err := s.Start(context.Background(), Spec{ServerID: "c", Command: []string{cmd}, MaxRestarts: 2, Backoff: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(events(t, s, "c", EventGaveUp), ",")
	if want := "started,exited,restarting,started,exited,restarting,started,gave_up"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	if d := time.Since(began); d < 300*time.Millisecond { // 100 ms + 200 ms of backoff
		t.Errorf("gave up after %v: no exponential backoff", d)
	}
	st, _ := s.Status("c")
	if st.State != StateFailed || st.Restarts != 2 || !strings.Contains(st.Error, "exit status 3") {
		t.Errorf("status %+v", st)
	}
	// Restart resets a failed server.
	if err := s.Restart(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	if got := events(t, s, "c", EventStarted); len(got) != 1 {
		t.Errorf("after Restart: %v", got)
	}
}

func TestCleanExitIsNotRestarted(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "done.sh", `echo match over; exit 0`)
	if _, err := s.Start(context.Background(), Spec{ServerID: "d", Command: []string{cmd}, MaxRestarts: 5, Backoff: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(events(t, s, "d", EventExited), ","); got != "started,exited" {
		t.Errorf("events %s", got)
	}
	time.Sleep(100 * time.Millisecond)
	st, _ := s.Status("d")
	if st.State != StateExited || st.Restarts != 0 || st.LastExit != "exit status 0" {
		t.Errorf("status %+v", st)
	}
	waitLog(t, s, "d", "match over")
	// A finished server may be started again under its id.
	if _, err := s.Start(context.Background(), Spec{ServerID: "d", Command: []string{cmd}}); err != nil {
		t.Errorf("start after exit: %v", err)
	}
}

func TestKillAndExternalKill(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "idle.sh", `exec sleep 1000`)
	st, err := s.Start(context.Background(), Spec{ServerID: "k", Command: []string{cmd}, MaxRestarts: 3, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// kill -9 from outside is a crash: restarted.
	if st.PID <= 1 {
		t.Fatalf("status %+v", st)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool { st2, _ := s.Status("k"); return st2.Restarts == 1 && st2.State == StateRunning })
	// Kill (the power action) is not.
	if err := s.Kill("k"); err != nil {
		t.Fatal(err)
	}
	st = waitState(t, s, "k", StateStopped)
	if st.Restarts != 1 {
		t.Errorf("after Kill: %+v", st)
	}
	if err := s.Kill("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("kill unknown: %v", err)
	}
}

func TestRestartKeepsPorts(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "idle.sh", `echo "port $CN_PORT_GAME"; exec sleep 1000`)
	lo, hi := freeRange(t, "udp", 10)
	st, err := s.Start(context.Background(), Spec{ServerID: "r", Command: []string{cmd}, Ports: []PortSpec{{"game", "udp", rng(lo, hi)}}})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "r", StateRunning)
	if err := s.Restart(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	st2 := waitState(t, s, "r", StateRunning)
	if st2.PID == st.PID || st2.Ports["game"] != st.Ports["game"] || st2.Restarts != 0 {
		t.Errorf("before %+v after %+v", st, st2)
	}
}

func TestAllowPrefixes(t *testing.T) {
	s, bin := newTest(t)
	ok := script(t, bin, "ok.sh", "exit 0")
	outside := script(t, t.TempDir(), "outside.sh", "exit 0")
	if err := os.Symlink(outside, filepath.Join(bin, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ok, filepath.Join(bin, "inside-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(bin, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  string
		want error
	}{
		{"ok.sh", ErrNotAllowed}, // relative
		{outside, ErrNotAllowed},
		{filepath.Join(bin, "escape"), ErrNotAllowed}, // symlink out of the prefix
		{filepath.Join(bin, "..", filepath.Base(filepath.Dir(outside)), "outside.sh"), ErrNotAllowed},
		{bin + "-sibling/x", ErrNotAllowed}, // a prefix of the name is not a directory prefix
		{"/bin/sh", ErrNotAllowed},
		{filepath.Join(bin, "missing"), ErrNoBinary},
		{filepath.Join(bin, "noexec"), ErrNoBinary},
		{filepath.Join(bin, "dir"), ErrNoBinary},
		{filepath.Join(bin, "inside-link"), nil},
	} {
		_, err := s.Start(context.Background(), Spec{ServerID: "a" + strconv.Itoa(len(c.cmd)), Command: []string{c.cmd}})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.cmd, err, c.want)
		}
	}
	// No prefix at all refuses everything.
	none, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close(context.Background())
	if _, err := none.Start(context.Background(), Spec{ServerID: "x", Command: []string{ok}}); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("empty Allow: %v", err)
	}
	// Invalid specs.
	for _, sp := range []Spec{
		{ServerID: "../x", Command: []string{ok}},
		{ServerID: "x", Command: []string{ok}, Env: map[string]string{"lower": "v"}},
		{ServerID: "x", Command: []string{ok}, Env: map[string]string{"A": "nul\x00"}},
		{ServerID: "x", Command: []string{ok}, Ports: []PortSpec{{"game", "sctp", "1-2"}}},
		{ServerID: "x", Command: []string{ok}, Ports: []PortSpec{{"game", "udp", "9-1"}}},
		{ServerID: "x"},
	} {
		if _, err := s.Start(context.Background(), sp); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%+v: %v, want ErrInvalidSpec", sp, err)
		}
	}
}

func TestPortsExhausted(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "idle.sh", `exec sleep 1000`)
	// Someone else holds the first port of the range: it is skipped.
	lo, hi := freeRange(t, "udp", 3)
	busy, err := net.ListenPacket("udp", ":"+strconv.Itoa(lo))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	spec := func(id string) Spec {
		return Spec{ServerID: id, Command: []string{cmd}, Ports: []PortSpec{{"game", "udp", rng(lo, hi)}}}
	}
	got := map[int]bool{}
	for _, id := range []string{"p1", "p2"} {
		st, err := s.Start(context.Background(), spec(id))
		if err != nil {
			t.Fatal(err)
		}
		got[st.Ports["game"]] = true
	}
	if !got[lo+1] || !got[lo+2] {
		t.Errorf("ports %v", got)
	}
	if _, err := s.Start(context.Background(), spec("p3")); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("third: %v, want ErrPortsExhausted", err)
	}
	if _, ok := s.Status("p3"); ok {
		t.Error("a refused server is listed")
	}
	// Stopping one frees its port.
	if err := s.Stop(context.Background(), "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(context.Background(), spec("p3")); err != nil {
		t.Errorf("after a stop: %v", err)
	}
}

func TestFollow(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "talk.sh", `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); sleep 0.02; done`)
	if _, err := s.Start(context.Background(), Spec{ServerID: "f", Command: []string{cmd}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.Follow(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	var prev int = -1
	for i := 0; i < 5; i++ {
		select {
		case l := <-ch:
			var n int
			if _, err := fmt.Sscanf(l.Text, "line %d", &n); err != nil || prev >= 0 && n != prev+1 || l.Stream != "stdout" {
				t.Errorf("line %+v after %d", l, prev)
			}
			prev = n
		case <-time.After(5 * time.Second):
			t.Fatal("no line followed")
		}
	}
	cancel()
	waitFor(t, "follow channel closed", func() bool {
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return true
				}
			default:
				return false
			}
		}
	})
	if _, err := s.Follow(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("follow unknown: %v", err)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	bin := t.TempDir()
	s, err := New(Config{Dir: t.TempDir(), Allow: []string{bin}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := script(t, bin, "idle.sh", `trap '' TERM; sleep 1000 & wait`)
	var pgs []int
	for i := 0; i < 5; i++ {
		st, err := s.Start(context.Background(), Spec{ServerID: "c" + strconv.Itoa(i), Command: []string{cmd}, ShutdownGrace: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		pgs = append(pgs, st.PID)
	}
	waitFor(t, "children", func() bool { return len(groupMembers(pgs[4])) == 2 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, pg := range pgs {
		if m := groupMembers(pg); len(m) > 0 {
			t.Errorf("group %d left %v", pg, m)
		}
	}
	if _, ok := <-s.Events(); ok {
		for range s.Events() {
		}
	}
	if _, err := s.Start(context.Background(), Spec{ServerID: "late", Command: []string{cmd}}); !errors.Is(err, ErrClosed) {
		t.Errorf("start after close: %v", err)
	}
}
