package state_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/bans"
	"github.com/cassandranet/cassnet/state/settings"
)

func TestSnapshotRoundTrip(t *testing.T) {
	h, d := newHarness(t)
	for _, c := range randomLog(7, 3000) {
		h.apply(c) // randomLog sets small retentions, so the audit log is trimmed
	}
	if n := len(d.Audit.Entries("", 0)); n >= 3000 || n == 0 {
		t.Fatalf("expected a trimmed audit log, have %d entries", n)
	}
	data := persist(t, h.fsm)

	g, _ := newHarness(t)
	restore(t, g.fsm, data)
	if got, want := g.fsm.Hash(), h.fsm.Hash(); got != want {
		t.Fatalf("restored hash %s, want %s", got, want)
	}
	if g.fsm.Applied().Index() != h.fsm.Applied().Index() {
		t.Fatalf("restored index %d, want %d", g.fsm.Applied().Index(), h.fsm.Applied().Index())
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
	if g.fsm.Hash() != h.fsm.Hash() {
		t.Fatal("restored node diverged after further applies")
	}
}

// everything returns a harness holding data in every domain, at state
// version 2 when raised is set: bans (one ended), keys, revocations, a
// rotated signing key, operator tokens, every setting, audit entries,
// gossip keys and join tokens.
func everything(t *testing.T, raised bool) *harness {
	t.Helper()
	h, _ := newHarness(t)
	if raised {
		h.mustApply(setStateVersion(consensus.StateVersionDomains), setBanRetention(2*3600))
	}
	baseState(h)
	h.mustApply(identityState()...)
	join, _ := joinTokenCmd("secret", testEpoch.Add(48*time.Hour).Unix())
	h.mustApply(rotateKey("kid2", false), createToken("0123456789abcdef", make([]byte, 32)),
		setSettings(500), setSessionTTL(7200), keyringCmd("install", bytes.Repeat([]byte{1}, 32)), join,
		createBan("other", "b3", "", "p3", 60))
	return h
}

// TestSnapshotVersions checks the container a node writes at each state
// version: the first release's flat version 2 while the state version is
// 1 (so that a node of the first release can restore it during a rolling
// upgrade), and version 3 with one section per module from state version
// 2 on. Both restore to the state they were taken of.
func TestSnapshotVersions(t *testing.T) {
	flatKeys := []string{"tenants", "projects", "bans", "operator_tokens", "settings", "audit",
		"api_keys", "signing_keys", "session_revocations", "player_revocations", "gossip_keys", "join_tokens"}
	for _, raised := range []bool{false, true} {
		h := everything(t, raised)
		data := persist(t, h.fsm)
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatal(err)
		}
		if !raised {
			if string(top["version"]) != "2" {
				t.Fatalf("state version 1: container version %s, want 2", top["version"])
			}
			if _, ok := top["sections"]; ok {
				t.Fatal("state version 1: container has sections")
			}
			for _, k := range flatKeys {
				if _, ok := top[k]; !ok {
					t.Errorf("state version 1: no top-level %q", k)
				}
			}
			if _, ok := top["state_version"]; ok {
				t.Error("state version 1: the first release's format has no state_version")
			}
		} else {
			if string(top["version"]) != "3" {
				t.Fatalf("state version 2: container version %s, want 3", top["version"])
			}
			var sections map[string]map[string]json.RawMessage
			if err := json.Unmarshal(top["sections"], &sections); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"tenancy", "bans", "operators", "settings", "audit", "identity", "cluster", "engine"} {
				if _, ok := sections[name]; !ok {
					t.Errorf("state version 2: no section %q", name)
				}
			}
			if _, ok := sections["bans"]["bans"]; !ok {
				t.Error("state version 2: the bans section lacks its list")
			}
			if _, ok := top["tenants"]; ok {
				t.Error("state version 2: flat keys beside the sections")
			}
		}
		g, gd := newHarness(t)
		restore(t, g.fsm, data)
		if g.fsm.Hash() != h.fsm.Hash() || g.fsm.Applied().Index() != h.fsm.Applied().Index() {
			t.Fatalf("raised=%v: restored hash or index differs", raised)
		}
		if !bytes.Equal(persist(t, g.fsm), data) {
			t.Fatalf("raised=%v: persisting the restored state gave different bytes", raised)
		}
		// The restored state version is the one the snapshot was taken at:
		// ban_retention_seconds is refused below 2.
		res := g.apply(setBanRetention(settings.MinBanRetention))
		if raised != (res.Err == nil) {
			t.Errorf("raised=%v: SetSettings ban_retention after restore: %v", raised, res.Err)
		}
		if want := uint32(settings.DefaultBanRetentionSeconds); raised {
			if got := gd.Settings.Get().BanRetentionSeconds; got != settings.MinBanRetention {
				t.Errorf("ban retention %d", got)
			}
		} else if got := gd.Settings.Get().BanRetentionSeconds; got != want {
			t.Errorf("ban retention %d, want the default %d", got, want)
		}
	}
}

// TestSnapshotVersionsRestoreToTheSameHash takes the same data at state
// version 1 (container 2) and, after raising the version, as container 3:
// the engine's version is not hashed, so both restore to the same hash.
func TestSnapshotVersionsRestoreToTheSameHash(t *testing.T) {
	h := everything(t, false)
	flat := persist(t, h.fsm)
	want := h.fsm.Hash()

	// Raise the version on a copy restored from the flat snapshot, then
	// compare the hash of its own restored sectioned snapshot.
	r, _ := newHarness(t)
	restore(t, r.fsm, flat)
	sectioned := raiseAndPersist(t, r)
	a, _ := newHarness(t)
	b, _ := newHarness(t)
	restore(t, a.fsm, flat)
	restore(t, b.fsm, sectioned)
	if a.fsm.Hash() != want || b.fsm.Hash() != want {
		t.Fatalf("hashes %s (flat) and %s (sectioned), want %s", a.fsm.Hash(), b.fsm.Hash(), want)
	}
}

// raiseAndPersist raises h to state version 2 with a SetStateVersion whose
// leader time prunes nothing, and persists it.
func raiseAndPersist(t *testing.T, h *harness) []byte {
	t.Helper()
	h.index = h.fsm.Applied().Index()
	c := setStateVersion(consensus.StateVersionDomains)
	c.TimeUnixNano = testEpoch.Add(time.Minute).UnixNano()
	h.mustApply(c)
	data := persist(t, h.fsm)
	if !bytes.Contains(data, []byte(`{"version":3,`)) {
		t.Fatalf("not a version 3 container: %.40s", data)
	}
	return data
}

func TestRestoreDiscardsOldState(t *testing.T) {
	src, _ := newHarness(t)
	src.mustApply(createTenant("new"), createProject("new", "game"), createBan("new", "b1", "game", "p1", 0))
	data := persist(t, src.fsm)

	dst, s := newHarness(t)
	dst.mustApply(createTenant("old"), createBan("old", "b1", "", "p1", 0),
		createTenant("new"), createBan("new", "stale", "", "p1", 0),
		createToken("tok", make([]byte, 32)), setSettings(9))
	dst.mustApply(identityStateFor("new")...)
	restore(t, dst.fsm, data)

	if _, ok := s.Tenancy.Tenant("old"); ok {
		t.Error("tenant from the old state survived Restore")
	}
	if _, ok := s.Bans.Ban("new", "stale"); ok {
		t.Error("ban from the old state survived Restore")
	}
	if _, ok := s.Operators.Token("tok"); ok {
		t.Error("token from the old state survived Restore")
	}
	if _, ok := s.Identity.APIKey(testKeyID); ok {
		t.Error("api key from the old state survived Restore")
	}
	if _, ok := s.Identity.ActiveSigningKey(); ok {
		t.Error("signing key from the old state survived Restore")
	}
	if got := s.Settings.Get().AuditRetention; got != settings.DefaultAuditRetention {
		t.Errorf("AuditRetention = %d, want default", got)
	}
	if b, ok := s.Bans.ActiveBan("new", "p1", "", testEpoch); ok {
		t.Errorf("player index kept an old ban: %+v", b)
	}
	if b, ok := s.Bans.ActiveBan("new", "p1", "game", testEpoch); !ok || b.ID != "b1" {
		t.Errorf("player index not rebuilt: %+v, %v", b, ok)
	}
	if got := dst.fsm.Applied().Index(); got != src.index || dst.fsm.Hash() != src.fsm.Hash() {
		t.Errorf("index %d hash %s, want %d %s", got, dst.fsm.Hash(), src.index, src.fsm.Hash())
	}
}

// identityStateFor is identityState for a tenant without projects.
func identityStateFor(tenant string) []*cassnetv1.Command {
	return []*cassnetv1.Command{
		createKey(tenant, testKeyID, "read-only", "", 0),
		rotateKey("kid1", true),
		revokeSession(tenant, "ses1", 0),
	}
}

// TestSnapshotIsPointInTime checks that commands applied between Snapshot
// and Persist, including ones that change a ban and trim the audit log, do
// not leak into the snapshot.
func TestSnapshotIsPointInTime(t *testing.T) {
	h, _ := newHarness(t)
	h.mustApply(createTenant("acme"), createBan("acme", "b1", "", "p1", 60), setSettings(3),
		createProject("acme", "g1"), createProject("acme", "g2"))
	want := h.fsm.Hash()
	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	h.mustApply(revokeBan("acme", "b1"), createProject("acme", "g3"), createProject("acme", "g4"),
		setSettings(1), deleteTenant("acme"), setStateVersion(consensus.StateVersionDomains))

	g, _ := newHarness(t)
	restore(t, g.fsm, persistSnap(t, snap))
	if g.fsm.Hash() != want {
		t.Fatal("snapshot saw commands applied after Snapshot returned")
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	const secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	tests := []struct{ name, data, msg string }{
		{"not json", "{", "decode"},
		{"unknown version", `{"version":4,"index":5}`, "unknown snapshot version 4"},
		{"version 3 without sections", `{"version":3,"index":5}`, "sections"},
		{"unknown section", `{"version":3,"index":5,"sections":{"tenancy":{},"nosuchmodule":{}}}`, "section \"nosuchmodule\""},
		{"api key of unknown tenant", `{"version":2,"index":5,"api_keys":[{"id":"0123456789abcdef","tenant":"x","role":"read-only","secret_sha256":"` + secret + `"}]}`, "tenant \"x\""},
		{"api key with bad role", `{"version":2,"index":5,"tenants":[{"name":"x"}],"api_keys":[{"id":"0123456789abcdef","tenant":"x","role":"god","secret_sha256":"` + secret + `"}]}`, "malformed"},
		{"api key of unknown project", `{"version":2,"index":5,"tenants":[{"name":"x"}],"api_keys":[{"id":"0123456789abcdef","tenant":"x","project_id":"g","role":"game-server","secret_sha256":"` + secret + `"}]}`, "project \"g\""},
		{"duplicate api key", `{"version":2,"index":5,"tenants":[{"name":"x"}],"api_keys":[{"id":"0123456789abcdef","tenant":"x","role":"read-only","secret_sha256":"` + secret + `"},{"id":"0123456789abcdef","tenant":"x","role":"read-only","secret_sha256":"` + secret + `"}]}`, "duplicate api key"},
		{"two active signing keys", `{"version":2,"index":5,"signing_keys":[{"kid":"a","private_key":"` + secret + `"},{"kid":"b","private_key":"` + secret + `"}]}`, "2 active signing keys"},
		{"short signing key", `{"version":2,"index":5,"signing_keys":[{"kid":"a","private_key":"AAAA"}]}`, "signing key \"a\": malformed"},
		{"revocation of unknown tenant", `{"version":2,"index":5,"session_revocations":[{"tenant":"x","session_id":"s"}]}`, "session revocation"},
		{"player revocation of unknown tenant", `{"version":2,"index":5,"player_revocations":[{"tenant":"x","player_id":"p"}]}`, "player revocation"},
		{"ttl out of range", `{"version":2,"index":5,"settings":{"audit_retention":5,"max_session_ttl_seconds":99999999}}`, "max_session_ttl_seconds"},
		{"ban retention out of range", `{"version":3,"index":5,"sections":{"settings":{"settings":{"ban_retention_seconds":5}}}}`, "ban_retention_seconds"},
		{"no version", `{"index":5}`, "version"},
		{"ban of unknown tenant", `{"version":1,"index":5,"bans":[{"id":"b","tenant":"x","player_id":"p"}]}`, "ban \"b\""},
		{"project of unknown tenant", `{"version":1,"index":5,"projects":[{"tenant":"x","name":"g"}]}`, "project \"g\": unknown tenant"},
		{"ban of unknown project", `{"version":1,"index":5,"tenants":[{"name":"x"}],"bans":[{"id":"b","tenant":"x","project_id":"g","player_id":"p"}]}`, "project \"g\" in tenant"},
		{"duplicate tenant", `{"version":1,"index":5,"tenants":[{"name":"x"},{"name":"x"}]}`, "duplicate or empty tenant"},
		{"duplicate ban", `{"version":1,"index":5,"tenants":[{"name":"x"}],"bans":[{"id":"b","tenant":"x","player_id":"p"},{"id":"b","tenant":"x","player_id":"q"}]}`, "duplicate ban"},
		{"duplicate operator token", `{"version":2,"index":5,"operator_tokens":[{"id":"t"},{"id":"t"}]}`, "duplicate operator token"},
		{"retention out of range", `{"version":1,"index":5,"settings":{"audit_retention":1000001}}`, "audit_retention"},
		{"too many gossip keys", `{"version":2,"index":5,"gossip_keys":["` + strings.Repeat(`AAAAAAAAAAAAAAAAAAAAAA==","`, 8) + `AAAAAAAAAAAAAAAAAAAAAA=="]}`, "9 keys"},
		{"short gossip key", `{"version":2,"index":5,"gossip_keys":["AAAA"]}`, "key of 3 bytes"},
		{"malformed join token", `{"version":2,"index":5,"join_tokens":[{"id":"x","secret_sha256":"AAAA"}]}`, "join token"},
		{"list of the wrong type", `{"version":2,"index":5,"tenants":{"name":"x"}}`, "snapshot key \"tenants\""},
		{"unsupported state version", `{"version":3,"index":5,"sections":{"engine":{"state_version":4}}}`, "state version 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, d := newHarness(t)
			h.mustApply(createTenant("keep"))
			before, index := h.fsm.Hash(), h.fsm.Applied().Index()
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
			if _, ok := d.Tenancy.Tenant("keep"); !ok {
				t.Fatal("failed Restore dropped a tenant")
			}
		})
	}
}

func TestIdentitySnapshotRoundTrip(t *testing.T) {
	h, _ := newHarness(t)
	baseState(h)
	h.mustApply(identityState()...)
	h.mustApply(rotateKey("kid2", false))
	data := persist(t, h.fsm)
	if bytes.Contains(data, []byte("cnk_")) {
		t.Fatal("snapshot holds a key string")
	}
	g, gd := newHarness(t)
	restore(t, g.fsm, data)
	if g.fsm.Hash() != h.fsm.Hash() {
		t.Fatal("restored hash differs")
	}
	if !gd.Identity.SessionRevoked("acme", "s", "p1", "shooter", testEpoch) {
		t.Fatal("player revocation lost")
	}
	if k, ok := gd.Identity.ActiveSigningKey(); !ok || k.KID != "kid2" {
		t.Fatal("active signing key lost")
	}
	if k, ok := gd.Identity.APIKey(testKeyID); !ok || k.LastUsedAt == nil || k.ProjectID != "shooter" {
		t.Fatalf("api key lost: %+v, %v", k, ok)
	}
	// A version-1 snapshot (before identity) still restores.
	v1 := `{"version":1,"index":3,"settings":{"audit_retention":7},"tenants":[{"name":"x"}]}`
	if err := g.fsm.Restore(io.NopCloser(strings.NewReader(v1))); err != nil {
		t.Fatal(err)
	}
	if s := gd.Settings.Get(); s.MaxSessionTTLSeconds != settings.DefaultMaxSessionTTLSeconds || s.AuditRetention != 7 {
		t.Fatalf("settings from v1 = %+v", s)
	}
	if _, ok := gd.Identity.APIKey(testKeyID); ok {
		t.Fatal("api key survived restoring a snapshot without one")
	}
	if bs, err := gd.Bans.Bans("x", bans.Filter{}); err != nil || len(bs) != 0 {
		t.Fatalf("bans of x = %v, %v", bs, err)
	}
}

// TestRestoredNodeKeepsConverging applies richLog on a node, and on a
// second node that is replaced every 400 entries by a fresh one restored
// from the first's snapshot. A restored node rebuilds every derived index
// (ended bans, expiries, per-tenant counts) from the snapshot, so the two
// diverge if incremental upkeep and rebuilding disagree about what to
// prune or refuse. It runs at state version 1 and, with ban pruning and a
// short ban retention, at state version 2.
func TestRestoredNodeKeepsConverging(t *testing.T) {
	bansLeft := map[bool]int{}
	for _, raised := range []bool{false, true} {
		log := richLog(33, 3000)
		if raised {
			head := []*cassnetv1.Command{setStateVersion(consensus.StateVersionDomains), setBanRetention(3600)}
			for _, c := range head {
				c.TimeUnixNano = testEpoch.Add(-time.Minute).UnixNano()
			}
			log = append(head, log...)
		}
		a, _ := newHarness(t)
		b, _ := newHarness(t)
		for i, c := range log {
			ra, rb := a.apply(c), b.apply(c)
			if (ra.Err == nil) != (rb.Err == nil) {
				t.Fatalf("raised=%v, entry %d (%v): %v on the original, %v on the restored node", raised, i+1, c.GetOp(), ra.Err, rb.Err)
			}
			if (i+1)%50 == 0 && a.fsm.Hash() != b.fsm.Hash() {
				t.Fatalf("raised=%v, after entry %d (%v): hashes differ", raised, i+1, c.GetOp())
			}
			if (i+1)%400 == 0 {
				g, _ := newHarness(t)
				restore(t, g.fsm, persist(t, a.fsm))
				g.index = a.index
				b = g
			}
		}
		bansLeft[raised] = a.fsm.Counts()["bans"]["bans"]
	}
	// The log must exercise ban pruning, and leave live bans behind.
	if bansLeft[true] == 0 || bansLeft[true] >= bansLeft[false] {
		t.Fatalf("bans left: %d at state version 2, %d at 1; want fewer but some at 2", bansLeft[true], bansLeft[false])
	}
}
