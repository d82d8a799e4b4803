package mesh

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPeersFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	got, err := readPeersFile(path, testLogger())
	if err != nil || got != nil {
		t.Fatalf("missing file: %v %v", got, err)
	}
	want := []string{"10.0.0.1:7946", "[fd00::1]:7946"}
	if err := writePeersFile(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	got, err = readPeersFile(path, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("dir has %d entries", len(entries))
	}
}

func TestReadPeersFileSkipsJunk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	data := "# comment\n\n10.0.0.2:1\nnot an address\n10.0.0.2:1\n  10.0.0.3:2  \n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readPeersFile(path, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.2:1", "10.0.0.3:2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPeerStoreDebounces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers")
	p := &peerStore{path: path, log: testLogger()}
	t0 := time.Now()
	p.observe(t0, []string{"a:1"}, false)
	p.observe(t0.Add(peersWriteDelay/2), []string{"a:1", "b:2"}, false) // changed again: restart the wait
	p.observe(t0.Add(peersWriteDelay), []string{"a:1", "b:2"}, false)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("written before the set was stable")
	}
	p.observe(t0.Add(peersWriteDelay*3/2+time.Millisecond), []string{"a:1", "b:2"}, false)
	got, _ := readPeersFile(path, testLogger())
	if !slices.Equal(got, []string{"a:1", "b:2"}) {
		t.Fatalf("file holds %v", got)
	}
	p.observe(t0.Add(2*peersWriteDelay), []string{"c:3"}, true) // forced: at once
	got, _ = readPeersFile(path, testLogger())
	if !slices.Equal(got, []string{"c:3"}) {
		t.Fatalf("after force: %v", got)
	}
}
