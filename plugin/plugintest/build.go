// Package plugintest builds plugin modules for tests: the examples and
// the hostile test plugins, with the standard toolchain
// (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared). It is used only
// by tests.
package plugintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	root     string
)

// Root returns the module's root directory (where go.mod is).
func Root(tb testing.TB) string {
	tb.Helper()
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err == nil {
			root = filepath.Dir(strings.TrimSpace(string(out)))
		}
	})
	if root == "" || root == "." {
		tb.Fatal("plugintest: cannot find the module root")
	}
	return root
}

// Build builds the plugin whose source is dir (relative to the module
// root, e.g. "examples/plugins/ban-policy") into outDir and returns the
// module's bytes. ldflags, if set, is passed to -ldflags.
func Build(tb testing.TB, dir, outDir, ldflags string) []byte {
	tb.Helper()
	out := filepath.Join(outDir, strings.ReplaceAll(dir, "/", "_")+"_"+strings.NewReplacer(" ", "_", "=", "_", ".", "_").Replace(ldflags)+".wasm")
	args := []string{"build", "-buildmode=c-shared", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = filepath.Join(Root(tb), dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
