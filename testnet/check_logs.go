package testnet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// logAlarms are the lines that mean a node crashed, raced or hung
// ("SIGQUIT: quit" heads the goroutine dump the harness asks for when a
// graceful stop does not finish).
var logAlarms = []string{"panic:", "DATA RACE", "fatal error:", "SIGQUIT: quit"}

// LogChecker scans every node's log and race-detector reports (the
// agents run with GORACE log_path=<dir>/<node>.race) for a panic, a fatal
// runtime error, a data race, or the goroutine dump of a hung stop.
type LogChecker struct{}

// Name implements Checker.
func (*LogChecker) Name() string { return "logs" }

// Check implements Checker.
func (c *LogChecker) Check(_ context.Context, run *RunData) Result {
	res := Result{Checker: c.Name(), Verdict: Pass}
	var files []string
	for _, n := range run.Nodes {
		files = append(files, n.LogPath())
		races, _ := filepath.Glob(filepath.Join(filepath.Dir(n.LogPath()), n.Name+".race*"))
		files = append(files, races...)
	}
	hits := 0
	for _, f := range files {
		found, err := scanLog(f)
		if err != nil {
			res.Verdict = Fail
			res.Details = append(res.Details, err.Error())
			continue
		}
		hits += len(found)
		for _, h := range found {
			res.Details = appendCapped(res.Details, h)
		}
	}
	if hits > 0 {
		res.Verdict = Fail
	}
	res.Summary = fmt.Sprintf("%d log files scanned, %d panics/races/fatal errors/hangs", len(files), hits)
	return res
}

// scanLog returns "file:line: text" for each alarming line of path.
func scanLog(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scan log: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		for _, a := range logAlarms {
			if strings.Contains(text, a) {
				out = append(out, fmt.Sprintf("%s:%d: %.200s", path, line, text))
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("scan %s: %w", path, err)
	}
	return out, nil
}
