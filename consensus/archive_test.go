package consensus

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fakeModules is a fresh, empty set of the fakes' modules, for
// InspectArchive.
func fakeModules(t *testing.T) []Module {
	f := newFakes(t)
	return []Module{f.alpha, f.beta, f.gamma}
}

func saveArchive(t *testing.T, h *harness) []byte {
	t.Helper()
	var b bytes.Buffer
	meta, err := h.fsm.WriteArchive(&b, ArchiveMeta{ClusterID: "c1", Node: "n1", Term: 4})
	if err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	if meta.Index != h.index || meta.StateHash != h.fsm.Hash() {
		t.Fatalf("header index %d hash %s, want %d %s", meta.Index, meta.StateHash, h.index, h.fsm.Hash())
	}
	return b.Bytes()
}

// TestArchiveRoundTrip: an archive parses, restores into a fresh state
// machine with the same hash and counts, and carries its identity.
func TestArchiveRoundTrip(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	h.mustApply(setStateVersion(StateVersionDomains), createBan("b1"))
	data := saveArchive(t, h)
	a, err := ParseArchive(data)
	if err != nil {
		t.Fatalf("ParseArchive: %v", err)
	}
	if a.Meta.ClusterID != "c1" || a.Meta.Term != 4 || a.Meta.Format != ArchiveFormat ||
		a.Meta.SnapshotVersion != snapshotVersionSections || a.Meta.StateVersion != StateVersionDomains {
		t.Fatalf("header %+v", a.Meta)
	}
	hash, counts, err := InspectArchive(a, fakeModules(t))
	if err != nil {
		t.Fatalf("InspectArchive: %v", err)
	}
	if hash != h.fsm.Hash() || counts["beta"]["beta_items"] != 4 || a.Meta.Counts["alpha"]["alpha_items"] != 4 {
		t.Fatalf("hash %s (want %s), counts %v, header counts %v", hash, h.fsm.Hash(), counts, a.Meta.Counts)
	}
	r, err := ReadArchive(bytes.NewReader(data), int64(len(data)))
	if err != nil || r.SHA256 != a.SHA256 {
		t.Fatalf("ReadArchive: %v", err)
	}
	if _, err := ReadArchive(bytes.NewReader(data), int64(len(data)-1)); err == nil {
		t.Fatal("ReadArchive accepted an archive over its limit")
	}
}

// TestArchiveRefused: damaged, truncated, foreign, and unknown-format
// archives are refused with an error that says which.
func TestArchiveRefused(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	data := saveArchive(t, h)
	flip := func(i int) []byte {
		b := bytes.Clone(data)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "only 0 bytes"},
		{"truncated", data[:len(data)-10], "no checksum trailer"},
		{"a bit flipped in the body", flip(len(data) / 2), "checksum mismatch"},
		{"a bit flipped in the header", flip(3), "checksum mismatch"},
		{"not an archive", []byte(strings.Repeat("x", 200)), "no checksum trailer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArchive(tc.data)
			if !errors.Is(err, ErrCorruptArchive) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A later format, correctly checksummed, is refused by name.
	future := rewriteArchive(t, data, `"format":1`, `"format":2`)
	if _, err := ParseArchive(future); err == nil || !strings.Contains(err.Error(), "unknown snapshot format 2") {
		t.Fatalf("future format: %v", err)
	}
	// A body this node cannot restore fails InspectArchive, before raft.
	unknown := rewriteArchive(t, data, `"version":2,"index"`, `"version":9,"index"`)
	a, err := ParseArchive(unknown)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := InspectArchive(a, fakeModules(t)); !errors.Is(err, ErrCorruptArchive) || !strings.Contains(err.Error(), "unknown snapshot version 9") {
		t.Fatalf("unknown container version: %v", err)
	}
}

// rewriteArchive replaces old with new in an archive and fixes its
// checksum.
func rewriteArchive(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	content := string(data[:len(data)-trailerLen])
	if !strings.Contains(content, old) {
		t.Fatalf("archive has no %q", old)
	}
	content = strings.Replace(content, old, new, 1)
	var b bytes.Buffer
	b.WriteString(content)
	sum := sha256Hex([]byte(content))
	b.WriteString(trailerPrefix + sum + "\n")
	return b.Bytes()
}
