package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRingIsBounded(t *testing.T) {
	k := newSink(t.TempDir(), "s")
	defer k.close()
	k.ringMax = 10 << 10
	line := strings.Repeat("x", 100)
	for i := 0; i < 1000; i++ {
		k.add(LogLine{Stream: "stdout", Text: fmt.Sprintf("%04d %s", i, line)})
	}
	all := k.tail(0)
	size := 0
	for _, l := range all {
		size += lineSize(l)
	}
	if size > k.ringMax || len(all) < 50 {
		t.Fatalf("%d lines, %d bytes, limit %d", len(all), size, k.ringMax)
	}
	if last := all[len(all)-1].Text; !strings.HasPrefix(last, "0999 ") {
		t.Errorf("newest line %q", last[:10])
	}
	if got := k.tail(3); len(got) != 3 || !strings.HasPrefix(got[0].Text, "0997 ") {
		t.Errorf("tail 3: %v", got)
	}
	if got := k.tail(1 << 20); len(got) != len(all) {
		t.Errorf("tail past the ring: %d lines", len(got))
	}
}

func TestLongLinesAreSplit(t *testing.T) {
	k := newSink(t.TempDir(), "s")
	defer k.close()
	k.read(strings.NewReader(strings.Repeat("y", maxLine*2+10)+"\nshort\nlast without newline"), "stderr")
	got := k.tail(0)
	if len(got) != 5 || len(got[0].Text) != maxLine || got[3].Text != "short" || got[4].Text != "last without newline" {
		t.Fatalf("%d lines", len(got))
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	k := newSink(dir, "srv")
	k.fileMax = 4 << 10
	for i := 0; i < 2000; i++ {
		k.add(LogLine{Time: time.Now(), Stream: "stdout", Text: fmt.Sprintf("line %d", i)})
	}
	k.close()
	files, _ := filepath.Glob(filepath.Join(dir, "srv.log*"))
	if len(files) != filesKept+1 {
		t.Fatalf("files %v, want %d", files, filesKept+1)
	}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > k.fileMax+200 {
			t.Errorf("%s is %d bytes", f, fi.Size())
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "srv.log"))
	if !strings.HasSuffix(string(b), " stdout line 1999\n") {
		t.Errorf("current file ends %q", b[max(0, len(b)-40):])
	}
	old, _ := os.ReadFile(filepath.Join(dir, "srv.log.1"))
	if !strings.HasPrefix(string(old[strings.IndexByte(string(old), ' ')+1:]), "stdout line ") {
		t.Error("no rotated file")
	}
}

func TestFollowerEndsWithSink(t *testing.T) {
	k := newSink(t.TempDir(), "s")
	ch := k.follow(context.Background())
	k.add(LogLine{Text: "a"})
	if l := <-ch; l.Text != "a" {
		t.Errorf("got %q", l.Text)
	}
	k.close()
	if _, ok := <-ch; ok {
		t.Error("follower open after close")
	}
	if _, ok := <-k.follow(context.Background()); ok {
		t.Error("follow on a closed sink")
	}
	// A follower that never reads does not block the writer.
	k2 := newSink(t.TempDir(), "s2")
	defer k2.close()
	_ = k2.follow(context.Background())
	for i := 0; i < followQueue*4; i++ {
		k2.add(LogLine{Text: "x"})
	}
}

func TestCgroupLimitsFiles(t *testing.T) {
	base := t.TempDir()
	c := &cgroups{base: base}
	// A plain directory stands in for cgroupfs: the files are created.
	dir, f, err := c.create("s1", 512, 150)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	mem, _ := os.ReadFile(filepath.Join(dir, "memory.max"))
	cpu, _ := os.ReadFile(filepath.Join(dir, "cpu.max"))
	if string(mem) != "536870912" || string(cpu) != "150000 100000" {
		t.Errorf("memory.max %q cpu.max %q", mem, cpu)
	}
	dir, f, _ = c.create("s2", 0, 0)
	f.Close()
	mem, _ = os.ReadFile(filepath.Join(dir, "memory.max"))
	cpu, _ = os.ReadFile(filepath.Join(dir, "cpu.max"))
	if string(mem) != "max" || string(cpu) != "max 100000" {
		t.Errorf("unlimited: memory.max %q cpu.max %q", mem, cpu)
	}
}

// On a node without a delegated cgroup v2 the status says why.
func TestLimitedReportsWhy(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "idle.sh", `exec sleep 1000`)
	st, err := s.Start(context.Background(), Spec{ServerID: "l", Command: []string{cmd}, MemoryMB: 64, CPUPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	if s.cg == nil {
		if st.Limited || !strings.Contains(st.LimitError, "cgroup") {
			t.Errorf("status %+v", st)
		}
		t.Log("limits unavailable here:", st.LimitError)
		return
	}
	if !st.Limited {
		t.Fatalf("status %+v", st)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.PID))
	if !strings.HasSuffix(strings.TrimSpace(string(b)), "/l") {
		t.Errorf("process in %s", b)
	}
}

func TestRemovedServersLogsAreBounded(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "hi.sh", `echo hi`)
	for i := 0; i < keepRemoved+3; i++ {
		id := fmt.Sprintf("r%03d", i)
		if _, err := s.Start(context.Background(), Spec{ServerID: id, Command: []string{cmd}}); err != nil {
			t.Fatal(err)
		}
		waitState(t, s, id, StateExited)
		if err := s.Remove(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Status(id); ok {
			t.Fatal("removed server still listed")
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "*.log"))
	if len(files) != keepRemoved {
		t.Errorf("%d log files, want %d", len(files), keepRemoved)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Dir, "r000.log")); !os.IsNotExist(err) {
		t.Errorf("oldest log kept: %v", err)
	}
	// Old files go at start.
	old := filepath.Join(s.cfg.Dir, "ancient.log.2")
	if err := os.WriteFile(old, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * keepLogsFor)
	_ = os.Chtimes(old, past, past)
	pruneLogs(s.cfg.Dir, time.Now().Add(-keepLogsFor))
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Error("old log file not pruned")
	}
}

// prepareCgroups on a plain directory standing in for the node's cgroup.
func TestPrepareCgroups(t *testing.T) {
	own := t.TempDir()
	if _, err := prepareCgroups(own, os.Getpid()); err == nil || !strings.Contains(err.Error(), "cgroup.controllers") {
		t.Errorf("no controllers file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(own, "cgroup.controllers"), []byte("cpuset io pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareCgroups(own, os.Getpid()); err == nil || !strings.Contains(err.Error(), "memory controller is not delegated") {
		t.Errorf("no memory controller: %v", err)
	}
	if err := os.WriteFile(filepath.Join(own, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := prepareCgroups(own, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if c.base != filepath.Join(own, "cassnet-servers", strconv.Itoa(os.Getpid())) {
		t.Errorf("base %s", c.base)
	}
	for _, d := range []string{own, filepath.Dir(c.base), c.base} {
		if b, _ := os.ReadFile(filepath.Join(d, "cgroup.subtree_control")); string(b) != "+memory +cpu" {
			t.Errorf("%s subtree_control %q", d, b)
		}
	}
	dir, f, err := c.create("s1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "memory.current"), []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, ok := memoryCurrent(dir); !ok || m != 12345 {
		t.Errorf("memory.current %d %v", m, ok)
	}
}
