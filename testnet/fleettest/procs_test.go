package fleettest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// proc is one game-server process found in the process table.
type proc struct {
	pid           int
	server, fleet string
	key           string
}

// gameProcs lists the running processes of the test game server at exe,
// with the CN_* variables of their environment (read from /proc).
func gameProcs(exe string) []proc {
	var out []proc
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		base := filepath.Join("/proc", d.Name())
		if got, err := os.Readlink(filepath.Join(base, "exe")); err != nil || strings.TrimSuffix(got, " (deleted)") != exe {
			continue
		}
		if st, err := os.ReadFile(filepath.Join(base, "stat")); err == nil {
			if f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue // a zombie is gone
			}
		}
		env, err := os.ReadFile(filepath.Join(base, "environ"))
		if err != nil {
			continue
		}
		p := proc{pid: pid}
		for _, kv := range bytes.Split(env, []byte{0}) {
			k, v, _ := strings.Cut(string(kv), "=")
			switch k {
			case "CN_SERVER_ID":
				p.server = v
			case "CN_FLEET":
				p.fleet = v
			case "CN_KEY":
				p.key = v
			}
		}
		out = append(out, p)
	}
	return out
}
