package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// persist runs Snapshot and Persist into raft's in-memory snapshot store
// and returns the bytes written.
func persist(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	return persistSnap(t, snap)
}

func persistSnap(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func restore(t testing.TB, f *FSM, data []byte) {
	t.Helper()
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}

// topKeys decodes a snapshot's top-level object.
func topKeys(t *testing.T, data []byte) map[string]json.RawMessage {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatalf("snapshot is not one JSON object: %v\n%s", err, data)
	}
	return top
}

// TestSnapshotContainerVersions checks that a node writes the first
// release's flat container (version 2) while the state version is 1, and
// the sectioned one (version 3) from state version 2 on, and that both
// restore to the same data.
func TestSnapshotContainerVersions(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	flat := persist(t, h.fsm)
	top := topKeys(t, flat)
	if string(top["version"]) != "2" || string(top["index"]) != "4" {
		t.Fatalf("flat container version %s index %s, want 2 and 4", top["version"], top["index"])
	}
	if _, ok := top["sections"]; ok {
		t.Fatal("flat container has sections")
	}
	for _, key := range []string{"alpha", "beta", "gamma"} {
		if _, ok := top[key]; !ok {
			t.Errorf("flat container lacks the top-level key %q", key)
		}
	}
	if _, ok := top["state_version"]; ok {
		t.Error("flat container holds a state version the first release does not know")
	}
	flatHash := h.fsm.Hash()

	h.mustApply(setStateVersion(StateVersionDomains))
	sectioned := persist(t, h.fsm)
	top = topKeys(t, sectioned)
	if string(top["version"]) != "3" {
		t.Fatalf("container version %s at state version 2, want 3", top["version"])
	}
	var sections map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["sections"], &sections); err != nil {
		t.Fatalf("sections: %v", err)
	}
	for _, key := range []string{"alpha", "beta", "gamma", "engine"} {
		if _, ok := sections[key]; !ok {
			t.Errorf("no section %q", key)
		}
	}
	if _, ok := top["alpha"]; ok {
		t.Error("sectioned container has flat keys")
	}
	if got := string(sections["engine"]["state_version"]); got != "2" {
		t.Errorf("engine section state_version = %s, want 2", got)
	}

	// Each restores to its data and its state version.
	a := newHarness(t)
	restore(t, a.fsm, flat)
	if a.fsm.Hash() != flatHash || a.fsm.engine.committed() != StateVersionInitial || a.fsm.Applied().Index() != 4 {
		t.Fatal("flat snapshot did not restore")
	}
	b := newHarness(t)
	restore(t, b.fsm, sectioned)
	if b.fsm.Hash() != h.fsm.Hash() || b.fsm.engine.committed() != StateVersionDomains || b.fsm.Applied().Index() != 5 {
		t.Fatal("sectioned snapshot did not restore")
	}
	if again := persist(t, b.fsm); !bytes.Equal(again, sectioned) {
		t.Fatal("persisting the restored state gave different bytes")
	}
	// The state version gates operations after a restore too.
	b.index, a.index = 5, 4
	if res := a.apply(createBan("b1")); !errors.Is(res.Err, ErrStateVersion) {
		t.Errorf("CreateBan at restored version 1: %v", res.Err)
	}
	if res := b.apply(createBan("b1")); res.Err != nil {
		t.Errorf("CreateBan at restored version 2: %v", res.Err)
	}
}

func TestRestoreReadsEveryKnownVersion(t *testing.T) {
	tests := []struct {
		name, data string
		want       map[string]string // alpha's map
		version    uint32
	}{
		{"version 1", `{"version":1,"index":3,"alpha":{"t/x":"a"}}`, map[string]string{"t/x": "a"}, 1},
		{"version 2", `{"version":2,"index":3,"alpha":{"t/x":"a"}}`, map[string]string{"t/x": "a"}, 1},
		{"version 2 ignores the keys it does not know", `{"version":2,"index":3,"alpha":{"t/x":"a"},"later":[1]}`, map[string]string{"t/x": "a"}, 1},
		{"version 3", `{"version":3,"index":3,"sections":{"alpha":{"alpha":{"t/x":"a"}},"engine":{"state_version":2}}}`, map[string]string{"t/x": "a"}, 2},
		{"version 3 missing section is empty", `{"version":3,"index":3,"sections":{"engine":{"state_version":2}}}`, map[string]string{}, 2},
		{"version 3 missing engine is version 1", `{"version":3,"index":3,"sections":{}}`, map[string]string{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			restore(t, h.fsm, []byte(tt.data))
			got := *h.alpha.cur.Load()
			if len(got) != len(tt.want) || got["t/x"] != tt.want["t/x"] {
				t.Errorf("alpha = %v, want %v", got, tt.want)
			}
			if h.beta.len() != 0 || h.gamma.len() != 0 {
				t.Error("old state survived Restore")
			}
			if v := h.fsm.engine.committed(); v != tt.version {
				t.Errorf("state version %d, want %d", v, tt.version)
			}
			if h.fsm.Applied().Index() != 3 {
				t.Errorf("index %d, want 3", h.fsm.Applied().Index())
			}
		})
	}
}

// TestRestoreIsAllOrNothing feeds snapshots that fail in the container or
// in one module, after other modules have restored theirs: the state and
// the index stay exactly as they were.
func TestRestoreIsAllOrNothing(t *testing.T) {
	tests := []struct{ name, data, msg string }{
		{"not json", "{", "decode"},
		{"no version", `{"index":5}`, "version"},
		{"unknown version", `{"version":4,"index":5}`, "unknown snapshot version 4"},
		{"version 0", `{"version":0,"index":5}`, "unknown snapshot version 0"},
		{"unknown section", `{"version":3,"index":5,"sections":{"alpha":{},"delta":{}}}`, `section "delta"`},
		{"sections not an object", `{"version":3,"index":5,"sections":[]}`, "sections"},
		{"bad index", `{"version":2,"index":"x"}`, "index"},
		{"undecodable key", `{"version":2,"index":5,"alpha":[1]}`, "alpha"},
		{"later module fails flat", `{"version":2,"index":5,"alpha":{"t/new":"a"},"gamma":{"bad":"x"}}`, "gamma"},
		{"later module fails sectioned", `{"version":3,"index":5,"sections":{"alpha":{"alpha":{"t/new":"a"}},"beta":{"beta":{"bad":"x"}}}}`, "beta"},
		{"engine refuses its version", `{"version":3,"index":5,"sections":{"alpha":{"alpha":{"t/new":"a"}},"engine":{"state_version":9}}}`, "state version 9"},
		{"engine refuses version 0", `{"version":3,"index":5,"sections":{"engine":{"state_version":0}}}`, "state version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			baseState(h)
			before, index := h.fsm.Hash(), h.fsm.Applied().Index()
			alpha := *h.alpha.cur.Load()
			err := h.fsm.Restore(io.NopCloser(strings.NewReader(tt.data)))
			if err == nil {
				t.Fatal("Restore accepted a bad snapshot")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if h.fsm.Hash() != before || h.fsm.Applied().Index() != index {
				t.Fatal("failed Restore changed the state")
			}
			if _, ok := h.alpha.get("t/new"); ok || h.alpha.len() != len(alpha) {
				t.Fatal("failed Restore committed an earlier module")
			}
			// The next entry must not commit what the failed Restore staged.
			h.mustApply(createTenant("later"))
			if _, ok := h.alpha.get("t/new"); ok {
				t.Fatal("an entry after a failed Restore committed its data")
			}
		})
	}
}

// TestSnapshotIsPointInTime checks that commands applied between Snapshot
// and Persist do not leak into the snapshot.
func TestSnapshotIsPointInTime(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	want := h.fsm.Hash()
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	h.mustApply(createTenant("new"), deleteTenant("acme"), createProject("other", "g2"), setStateVersion(StateVersionDomains))

	g := newHarness(t)
	data := persistSnap(t, snap)
	if string(topKeys(t, data)["version"]) != "2" {
		t.Error("the container version follows the state version of the capture, not of Persist")
	}
	restore(t, g.fsm, data)
	if g.fsm.Hash() != want {
		t.Fatal("snapshot saw commands applied after Snapshot returned")
	}
}

func TestRestoreWakesWaiters(t *testing.T) {
	src := newHarness(t)
	src.mustApply(createTenant("a"), createTenant("b"), createTenant("c"))
	data := persist(t, src.fsm)

	dst := newHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- dst.fsm.Applied().WaitIndex(ctx, 3) }()
	restore(t, dst.fsm, data)
	if err := <-done; err != nil {
		t.Fatalf("WaitIndex after Restore: %v", err)
	}
}

// failingSink fails every write and records whether Persist cancelled it.
type failingSink struct {
	cancelled, closed bool
}

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }
func (s *failingSink) Close() error              { s.closed = true; return nil }
func (s *failingSink) ID() string                { return "failing" }
func (s *failingSink) Cancel() error             { s.cancelled = true; return nil }

func TestPersistCancelsOnError(t *testing.T) {
	for _, v := range []uint32{StateVersionInitial, StateVersionDomains} {
		h := newHarness(t)
		h.mustApply(createTenant("acme"))
		if v > StateVersionInitial {
			h.mustApply(setStateVersion(v))
		}
		snap, err := h.fsm.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink := &failingSink{}
		if err := snap.Persist(sink); err == nil {
			t.Fatalf("state version %d: Persist succeeded on a failing sink", v)
		}
		if !sink.cancelled || sink.closed {
			t.Fatalf("state version %d: sink cancelled=%v closed=%v, want cancelled only", v, sink.cancelled, sink.closed)
		}
		snap.Release()
	}
}

// TestConcurrentUse runs readers, Hash and a snapshot Persist while
// commands are applied, as Raft and the API do; the race detector checks
// that captures share nothing Apply writes.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		for ctx.Err() == nil {
			h.alpha.get("t/acme")
			h.fsm.Hash()
			h.fsm.Counts()
			h.fsm.Applied().Index()
		}
	})
	for i := range 400 {
		h.apply(createTenant("t" + formatIndex(i%50)))
		h.apply(deleteTenant("t" + formatIndex((i+7)%50)))
		if i%100 == 0 {
			snap, err := h.fsm.Snapshot() // same goroutine as Apply, as in Raft
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer snap.Release()
				if err := snap.Persist(&discardSink{}); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func formatIndex(i int) string { return string(rune('a'+i%26)) + string(rune('a'+i/26)) }

// discardSink is a SnapshotSink that keeps nothing.
type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) Close() error                { return nil }
func (discardSink) ID() string                  { return "discard" }
func (discardSink) Cancel() error               { return nil }
