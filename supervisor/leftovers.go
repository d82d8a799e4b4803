package supervisor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// runningFile lists the process groups of running servers ("<id> <pgid>"
// per line), rewritten on every start and exit. If the node dies without
// stopping them, Pdeathsig kills each group's leader but not the leader's
// descendants; the next New reads the file and kills what is left.
const runningFile = "running"

// writeRunning rewrites the running file from s.procs. Called with s.mu
// held; errors are logged, never fatal (the file is a safety net).
func (s *impl) writeRunning() {
	var lines []string
	for id, p := range s.procs {
		if pg := p.pid(); pg > 1 {
			lines = append(lines, id+" "+strconv.Itoa(pg))
		}
	}
	sort.Strings(lines)
	path := filepath.Join(s.cfg.Dir, runningFile)
	tmp := path + ".tmp"
	data := strings.Join(lines, "\n")
	if err := os.WriteFile(tmp, []byte(data), 0o640); err == nil {
		err = os.Rename(tmp, path)
		if err != nil {
			s.log.Warn("supervisor: running file", "err", err)
		}
	} else {
		s.log.Warn("supervisor: running file", "err", err)
	}
}

// killLeftovers kills, one by one, the processes that are still in a
// process group the running file names and whose environment carries
// that server's CN_SERVER_ID: a process group id cannot be reused while
// a member is alive, and the environment check keeps an unrelated
// process that got the number later safe. It answers how many it killed.
func killLeftovers(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, runningFile))
	if os.IsNotExist(err) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	want := map[int]string{} // pgid -> server id
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		id, pg, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(pg)
		if ok && err == nil && n > 1 && ValidID(id) == nil {
			want[n] = id
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	names, _ := filepath.Glob("/proc/[0-9]*")
	killed := 0
	for _, d := range names {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		state, pgrp, _, _, ok := procStat(stat)
		id, mine := want[pgrp]
		if !ok || !mine || state == 'Z' {
			continue
		}
		env, err := os.ReadFile(d + "/environ")
		if err != nil || !bytes.Contains(append([]byte{0}, env...), []byte("\x00CN_SERVER_ID="+id+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		if pid > 1 && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	if err := os.Remove(filepath.Join(dir, runningFile)); err != nil && !os.IsNotExist(err) {
		return killed, fmt.Errorf("remove running file: %w", err)
	}
	return killed, nil
}
