// Package fleettest runs fleets on real cassnet agents: a three-node
// cluster whose nodes supervise a small Go game server (testdata/gs)
// through package supervisor, driven only through the REST API.
package fleettest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binPath and gsPath are the cassnet agent (-race) and the game server
// the tests run; TestMain builds both (CASSNET_BIN reuses an agent).
var binPath, gsPath string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "cassnet-fleet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	gsPath = filepath.Join(dir, "games", "gs")
	builds := [][]string{{"go", "build", "-o", gsPath, "./testdata/gs"}}
	if binPath = os.Getenv("CASSNET_BIN"); binPath == "" {
		binPath = filepath.Join(dir, "cassnet")
		builds = append(builds, []string{"go", "build", "-race", "-o", binPath, "../../cmd/cassnet"})
	}
	for _, b := range builds {
		cmd := exec.Command(b[0], b[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build:", err)
			return 1
		}
	}
	return m.Run()
}
