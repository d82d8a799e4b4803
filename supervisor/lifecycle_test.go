package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSamplesCPUAndMemory(t *testing.T) {
	s, bin := newTest(t)
	busy := script(t, bin, "busy.sh", `while :; do :; done`)
	idle := script(t, bin, "idle.sh", `exec sleep 1000`)
	for id, cmd := range map[string]string{"busy": busy, "idle": idle} {
		if _, err := s.Start(context.Background(), Spec{ServerID: id, Command: []string{cmd}}); err != nil {
			t.Fatal(err)
		}
	}
	last := s.sampleOnce(nil)
	time.Sleep(time.Second)
	s.sampleOnce(last)
	b, _ := s.Status("busy")
	i, _ := s.Status("idle")
	// A shared 2-core machine at load 10 gives a busy loop little.
	if b.CPUPercent < 3 || b.CPUPercent > 210 || b.MemoryBytes == 0 || b.CPUPercent < i.CPUPercent+2 {
		t.Errorf("busy: cpu %.1f%% rss %d", b.CPUPercent, b.MemoryBytes)
	}
	if i.CPUPercent > 5 || i.MemoryBytes == 0 {
		t.Errorf("idle: cpu %.1f%% rss %d", i.CPUPercent, i.MemoryBytes)
	}
}

func TestProcStat(t *testing.T) {
	line := "4242 (we ird) (x)) S 1 4240 4240 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 123 1000000 25 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
	state, pg, ticks, rss, ok := procStat([]byte(line))
	if !ok || state != 'S' || pg != 4240 || ticks != 10 || rss != 25 {
		t.Errorf("%c %d %d %d %v", state, pg, ticks, rss, ok)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2"} {
		if _, _, _, _, ok := procStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The fleet agent replaces a server as soon as it hears it exited.
func TestStartAgainOnTheExitedEvent(t *testing.T) {
	s, bin := newTest(t)
	cmd := script(t, bin, "once.sh", `echo "port $CN_PORT_GAME"`)
	lo, hi := freeRange(t, "udp", 5)
	spec := Spec{ServerID: "again", Command: []string{cmd}, Ports: []PortSpec{{"game", "udp", rng(lo, hi)}}}
	if _, err := s.Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		events(t, s, "again", EventExited)
		st, err := s.Start(context.Background(), spec)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if st.Ports["game"] < lo || st.Ports["game"] > hi {
			t.Fatalf("ports %v", st.Ports)
		}
	}
	events(t, s, "again", EventExited)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ports) != 0 {
		t.Errorf("ports still held after the last exit: %v", s.ports)
	}
}

func TestExecFailureIsNoBinary(t *testing.T) {
	s, bin := newTest(t)
	p := filepath.Join(bin, "badinterp")
	if err := os.WriteFile(p, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := s.Start(context.Background(), Spec{ServerID: "bad", Command: []string{p}, MaxRestarts: 3})
	if !errors.Is(err, ErrNoBinary) || st.State != StateFailed || st.Error == "" {
		t.Fatalf("%+v %v", st, err)
	}
	if got := events(t, s, "bad", EventGaveUp); len(got) != 1 {
		t.Errorf("events %v", got)
	}
}
