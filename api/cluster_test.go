package api

import (
	"errors"
	"net/http"
	"runtime"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/settings"
)

func TestNodeEndpoints(t *testing.T) {
	h := newHarness(t)

	health := decodeBody[map[string]string](t, h.mustDo("GET", "/v1/health", "", http.StatusOK))
	if health["status"] != "ok" || health["node"] != "node-a" {
		t.Errorf("health = %v", health)
	}
	ver := decodeBody[map[string]any](t, h.mustDo("GET", "/v1/version", "", http.StatusOK))
	if ver["version"] != "1.2.3" || ver["go"] != runtime.Version() {
		t.Errorf("version = %v", ver)
	}

	ready := decodeBody[map[string]bool](t, h.mustDo("GET", "/v1/ready", "", http.StatusOK))
	if !ready["ready"] {
		t.Errorf("ready = %v", ready)
	}
	h.store.set(func(f *fakeStore) { f.ready = false })
	rec := h.doWith("GET", "/v1/ready", "", "")
	wantError(t, rec, http.StatusServiceUnavailable, "not_ready")
	if rec.Header().Get("Retry-After") != "1" {
		t.Error("not-ready 503 without Retry-After")
	}
}

func TestMembers(t *testing.T) {
	h := newHarness(t)
	body := decodeBody[struct{ Members []memberView }](t, h.mustDo("GET", "/v1/members", "", http.StatusOK))
	want := []struct{ name, raftRole, status string }{
		{"a", "leader", "alive"}, {"b", "voter", "alive"}, {"c", "nonvoter", "suspect"}, {"d", "none", "left"},
	}
	if len(body.Members) != len(want) {
		t.Fatalf("members = %+v", body.Members)
	}
	for i, w := range want {
		m := body.Members[i]
		if m.Name != w.name || m.RaftRole != w.raftRole || m.Status != w.status {
			t.Errorf("member %d = %+v, want %+v", i, m, w)
		}
	}
	a := body.Members[0].Addresses
	if a.Gossip != "10.0.0.1:7946" || a.Raft != "10.0.0.1:7001" || a.HTTP != "10.0.0.1:8080" ||
		a.P2P != "10.0.0.1:4001" || a.GRPC != "10.0.0.1:9090" {
		t.Errorf("addresses = %+v", a)
	}
}

func TestRaftInfo(t *testing.T) {
	h := newHarness(t)
	info := decodeBody[consensus.RaftInfo](t, h.mustDo("GET", "/v1/cluster/raft", "", http.StatusOK))
	if info.ID != "node-a" || info.State != "Leader" || len(info.Servers) != 3 || info.AppliedIndex != h.store.fsm.Applied().Index() {
		t.Errorf("raft info = %+v", info)
	}
	if info.StateHash == "" || info.StateHash != h.store.fsm.Hash() {
		t.Errorf("state_hash = %q, want the FSM's %q", info.StateHash, h.store.fsm.Hash())
	}
}

// The state hash walks every module once the state has moved: the pages
// and scrapes that poll (members, metrics) must not ask for it.
func TestOnlyRaftInfoHashesTheState(t *testing.T) {
	h := newHarness(t)
	h.mustDo("GET", "/v1/members", "", http.StatusOK)
	h.mustDo("GET", "/metrics", "", http.StatusOK)
	if n := h.store.hashCalls.Load(); n != 0 {
		t.Errorf("members and metrics hashed the state %d times", n)
	}
	h.mustDo("GET", "/v1/cluster/raft", "", http.StatusOK)
	if n := h.store.hashCalls.Load(); n != 1 {
		t.Errorf("/v1/cluster/raft hashed the state %d times, want 1", n)
	}
}

func TestSettings(t *testing.T) {
	h := newHarness(t)
	got := decodeBody[settings.Settings](t, h.mustDo("GET", "/v1/cluster/settings", "", http.StatusOK))
	if got.AuditRetention != settings.DefaultAuditRetention {
		t.Errorf("default settings = %+v", got)
	}
	got = decodeBody[settings.Settings](t, h.mustDo("PUT", "/v1/cluster/settings", `{"audit_retention":50}`, http.StatusOK))
	if got.AuditRetention != 50 {
		t.Errorf("after PUT = %+v", got)
	}
	for _, body := range []string{`{}`, `{"audit_retention":0}`, `{"audit_retention":2000000}`, `{"audit_retention":-1}`, `{"audit_retention":5000000000}`} {
		rec := h.do("PUT", "/v1/cluster/settings", body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

func TestLeave(t *testing.T) {
	h := newHarness(t)
	rec := h.mustDo("POST", "/v1/agent/leave", "", http.StatusAccepted)
	if v := decodeBody[map[string]any](t, rec); v["leaving"] != true {
		t.Errorf("leave body = %v", v)
	}
	if h.agent.leaves != 1 {
		t.Fatalf("Agent.Leave called %d times", h.agent.leaves)
	}
	h.agent.err = errors.New("raft: cannot transfer leadership to node-b at 10.0.0.2")
	e := wantError(t, h.do("POST", "/v1/agent/leave", ""), http.StatusInternalServerError, "internal")
	if e.Message != "internal error" {
		t.Errorf("leaked %q", e.Message)
	}
	h.agent.err = consensus.ErrShuttingDown
	wantError(t, h.do("POST", "/v1/agent/leave", ""), http.StatusServiceUnavailable, "shutting_down")
}
