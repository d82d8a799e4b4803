package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCSharpDeclarationsCompile compiles the Unity P/Invoke declarations
// with Mono's C# compiler, when it is installed (CI installs mono-mcs).
// Without a compiler the file is unchecked, and the test says so.
func TestCSharpDeclarationsCompile(t *testing.T) {
	mcs, err := exec.LookPath("mcs")
	if err != nil {
		t.Skip("mcs (apt-get install mono-mcs) not installed: CassNet.cs not compiled")
	}
	out := filepath.Join(t.TempDir(), "CassNet.dll")
	cmd := exec.Command(mcs, "-target:library", "-warnaserror+", "-out:"+out, "csharp/CassNet.cs")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcs rejected csharp/CassNet.cs: %v\n%s", err, b)
	}
}
