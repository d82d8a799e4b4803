package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
)

func TestMetricsEndpoint(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.mustDo("GET", "/v1/tenants/acme", "", http.StatusOK)
	h.do("GET", "/v1/tenants/nope", "")
	h.do("POST", "/v1/tenants", `{"name":"acme"}`) // conflict
	h.do("GET", "/v1/no/such/route", "")
	h.store.set(func(f *fakeStore) { f.applyErr = consensus.ErrNoLeader })
	h.do("POST", "/v1/tenants", `{"name":"b"}`)

	rec := h.doWith("GET", "/metrics", "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d", rec.Code)
	}
	out := rec.Body.String()
	for _, want := range []string{
		`cassnet_http_requests_total{code="201",route="POST /v1/tenants"} 1`,
		`cassnet_http_requests_total{code="200",route="GET /v1/tenants/{tenant}"} 1`,
		`cassnet_http_requests_total{code="404",route="GET /v1/tenants/{tenant}"} 1`,
		`cassnet_http_requests_total{code="404",route="unmatched"} 1`,
		`cassnet_http_request_duration_seconds_bucket{code="201",route="POST /v1/tenants",le="0.5"}`,
		`cassnet_raft_apply_duration_seconds_count{outcome="ok"} 1`,
		`cassnet_raft_apply_duration_seconds_count{outcome="conflict"} 1`,
		`cassnet_raft_apply_duration_seconds_count{outcome="no_leader"} 1`,
		`cassnet_raft_is_leader 1`,
		`cassnet_raft_term 3`,
		`cassnet_raft_applied_index 4`,
		`cassnet_raft_last_index 4`,
		`cassnet_raft_commit_index 4`,
		`cassnet_raft_state{state="Leader"} 1`,
		`cassnet_raft_state{state="Follower"} 0`,
		`cassnet_raft_servers{suffrage="voter"} 2`,
		`cassnet_raft_servers{suffrage="nonvoter"} 1`,
		`cassnet_members{status="alive"} 2`,
		`cassnet_members{status="suspect"} 1`,
		`cassnet_members{status="failed"} 0`,
		`cassnet_build_info{version="1.2.3"} 1`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Labels are patterns, never raw paths.
	for _, raw := range []string{`/v1/tenants/acme"`, `/v1/tenants/nope`, `/v1/no/such/route`} {
		if strings.Contains(out, raw) {
			t.Errorf("raw path %q in metric labels", raw)
		}
	}
}

func TestRegistriesArePerServer(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	if a.srv.Registry() == b.srv.Registry() {
		t.Fatal("servers share a registry")
	}
}
