package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestConcurrentOps runs random operations on a few ids from several
// goroutines (under -race), then checks that Close leaves no process of
// any group it ever started. CASSNET_SUPERVISOR_SOAK=1 runs it for a
// minute instead of a second and a half.
func TestConcurrentOps(t *testing.T) {
	s, bin := newTest(t)
	d := 1500 * time.Millisecond
	if os.Getenv("CASSNET_SUPERVISOR_SOAK") != "" {
		d = time.Minute
	}
	cmds := []string{
		script(t, bin, "crash.sh", `echo crash; sleep 0.05; exit 1`),
		script(t, bin, "clean.sh", `echo bye; exit 0`),
		script(t, bin, "tree.sh", `sleep 1000 & sleep 1000 & echo up; wait`),
		script(t, bin, "stubborn.sh", `trap '' TERM; echo up; while :; do sleep 0.05; done`),
	}
	lo, hi := freeRange(t, "udp", 8)
	var mu sync.Mutex
	pgids := map[int]bool{}
	record := func(st Status) {
		if st.PID > 1 {
			mu.Lock()
			pgids[st.PID] = true
			mu.Unlock()
		}
	}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for time.Now().Before(end) {
				id := "c" + strconv.Itoa(rand.IntN(4))
				switch rand.IntN(9) {
				case 0, 1:
					st, err := s.Start(ctx, Spec{ServerID: id, Command: []string{cmds[rand.IntN(len(cmds))]},
						Ports: []PortSpec{{"game", "udp", rng(lo, hi)}}, MaxRestarts: 2, Backoff: 20 * time.Millisecond,
						ShutdownGrace: 100 * time.Millisecond})
					if err != nil && !errors.Is(err, ErrExists) && !errors.Is(err, ErrPortsExhausted) {
						t.Errorf("start: %v", err)
					}
					record(st)
				case 2:
					_ = s.Stop(ctx, id)
				case 3:
					_ = s.Kill(id)
				case 4:
					_ = s.Restart(ctx, id)
				case 5:
					_ = s.Remove(ctx, id)
				case 6:
					for _, st := range s.List() {
						record(st)
					}
				case 7:
					_, _ = s.Logs(id, 10)
				case 8:
					fctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
					if ch, err := s.Follow(fctx, id); err == nil {
						for range ch {
						}
					}
					cancel()
				}
			}
		}()
	}
	go func() { // nobody must be blocked by an unread Events channel
		for range s.Events() {
		}
	}()
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for pg, u := range scanGroups(pgids) { // one pass over /proc
		t.Errorf("group %d left %d live processes", pg, u.live)
	}
	t.Logf("%d process groups, none left", len(pgids))
}
