package consensus

import (
	"bytes"
	"context"
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
func persist(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	return persistSnap(t, snap)
}

func persistSnap(t *testing.T, snap raft.FSMSnapshot) []byte {
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

func restore(t *testing.T, f *FSM, data []byte) {
	t.Helper()
	if err := f.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	for _, c := range randomLog(7, 3000) {
		h.apply(c) // randomLog sets small retentions, so the audit log is trimmed
	}
	if n := len(h.state().Audit("", 0)); n >= 3000 || n == 0 {
		t.Fatalf("expected a trimmed audit log, have %d entries", n)
	}
	data := persist(t, h.fsm)

	g := newHarness(t)
	restore(t, g.fsm, data)
	if got, want := g.state().Hash(), h.state().Hash(); got != want {
		t.Fatalf("restored hash %s, want %s", got, want)
	}
	if g.state().Index() != h.state().Index() {
		t.Fatalf("restored index %d, want %d", g.state().Index(), h.state().Index())
	}
	if again := persist(t, g.fsm); !bytes.Equal(again, data) {
		t.Fatal("persisting the restored state gave different bytes")
	}

	// The restored node keeps applying exactly like the original.
	for _, c := range randomLog(8, 500) {
		h.apply(c)
		g.index = h.index - 1
		g.apply(c)
	}
	if g.state().Hash() != h.state().Hash() {
		t.Fatal("restored node diverged after further applies")
	}
}

func TestRestoreDiscardsOldState(t *testing.T) {
	src := newHarness(t)
	src.mustApply(createTenant("new"), createProject("new", "game"), createBan("new", "b1", "game", "p1", 0))
	data := persist(t, src.fsm)

	dst := newHarness(t)
	dst.mustApply(createTenant("old"), createBan("old", "b1", "", "p1", 0),
		createTenant("new"), createBan("new", "stale", "", "p1", 0),
		createToken("tok", make([]byte, 32)), setSettings(9))
	restore(t, dst.fsm, data)

	s := dst.state()
	if _, ok := s.Tenant("old"); ok {
		t.Error("tenant from the old state survived Restore")
	}
	if _, ok := s.Ban("new", "stale"); ok {
		t.Error("ban from the old state survived Restore")
	}
	if _, ok := s.OperatorToken("tok"); ok {
		t.Error("token from the old state survived Restore")
	}
	if got := s.Settings().AuditRetention; got != DefaultAuditRetention {
		t.Errorf("AuditRetention = %d, want default", got)
	}
	if b, ok := s.ActiveBan("new", "p1", "", testEpoch); ok {
		t.Errorf("player index kept an old ban: %+v", b)
	}
	if b, ok := s.ActiveBan("new", "p1", "game", testEpoch); !ok || b.ID != "b1" {
		t.Errorf("player index not rebuilt: %+v, %v", b, ok)
	}
	if s.Index() != src.index || s.Hash() != src.state().Hash() {
		t.Errorf("index %d hash %s, want %d %s", s.Index(), s.Hash(), src.index, src.state().Hash())
	}
}

// TestSnapshotIsPointInTime checks that commands applied between Snapshot
// and Persist, including ones that change a ban in place and trim the
// audit log, do not leak into the snapshot.
func TestSnapshotIsPointInTime(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createTenant("acme"), createBan("acme", "b1", "", "p1", 60), setSettings(3),
		createProject("acme", "g1"), createProject("acme", "g2"))
	want := h.state().Hash()
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	h.mustApply(revokeBan("acme", "b1"), createProject("acme", "g3"), createProject("acme", "g4"),
		setSettings(1), deleteTenant("acme"))

	g := newHarness(t)
	restore(t, g.fsm, persistSnap(t, snap))
	if g.state().Hash() != want {
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
	go func() { done <- dst.state().WaitIndex(ctx, 3) }()
	restore(t, dst.fsm, data)
	if err := <-done; err != nil {
		t.Fatalf("WaitIndex after Restore: %v", err)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	tests := []struct{ name, data string }{
		{"not json", "{"},
		{"unknown version", `{"version":3,"index":5}`},
		{"api key of unknown tenant", `{"version":2,"api_keys":[{"id":"0123456789abcdef","tenant":"x","role":"read-only","secret_sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`},
		{"api key with bad role", `{"version":2,"tenants":[{"name":"x"}],"api_keys":[{"id":"0123456789abcdef","tenant":"x","role":"god","secret_sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`},
		{"two active signing keys", `{"version":2,"signing_keys":[{"kid":"a","private_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},{"kid":"b","private_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`},
		{"short signing key", `{"version":2,"signing_keys":[{"kid":"a","private_key":"AAAA"}]}`},
		{"revocation of unknown tenant", `{"version":2,"session_revocations":[{"tenant":"x","session_id":"s"}]}`},
		{"ttl out of range", `{"version":2,"settings":{"audit_retention":5,"max_session_ttl_seconds":99999999}}`},
		{"no version", `{"index":5}`},
		{"ban of unknown tenant", `{"version":1,"index":5,"bans":[{"id":"b","tenant":"x","player_id":"p"}]}`},
		{"project of unknown tenant", `{"version":1,"index":5,"projects":[{"tenant":"x","name":"g"}]}`},
		{"ban of unknown project", `{"version":1,"tenants":[{"name":"x"}],"bans":[{"id":"b","tenant":"x","project_id":"g","player_id":"p"}]}`},
		{"duplicate tenant", `{"version":1,"tenants":[{"name":"x"},{"name":"x"}]}`},
		{"retention out of range", `{"version":1,"settings":{"audit_retention":1000001}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createTenant("keep"))
			before, index := h.state().Hash(), h.state().Index()
			err := h.fsm.Restore(io.NopCloser(strings.NewReader(tt.data)))
			if err == nil {
				t.Fatal("Restore accepted a bad snapshot")
			}
			if h.state().Hash() != before || h.state().Index() != index {
				t.Fatal("failed Restore changed the state")
			}
		})
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
	h := newHarness(t)
	h.mustApply(createTenant("acme"))
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

// TestConcurrentUse runs readers and a snapshot Persist while commands are
// applied, as Raft and the API do; the race detector checks the locking
// and that the snapshot shares nothing that Apply writes.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t)
	baseState(h)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // cleanups run last-in first-out: cancel, then wait
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := h.fsm.State()
				s.ActiveBan("t1", "p1", "g0", testEpoch)
				s.Bans("t1", BanFilter{PlayerID: "p2"})
				s.Audit("", 10)
				s.Tenants()
				s.Hash()
			}
		})
	}
	log := randomLog(99, 2000)
	for i, c := range log {
		h.apply(c)
		if i%500 == 0 {
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

// discardSink is a SnapshotSink that keeps nothing.
type discardSink struct{}

func (discardSink) Write(p []byte) (int, error) { return len(p), nil }
func (discardSink) Close() error                { return nil }
func (discardSink) ID() string                  { return "discard" }
func (discardSink) Cancel() error               { return nil }
