package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
)

// TestSnapshotRoutes: save answers an archive of the state; restore
// refuses a damaged one and another cluster's (unless forced) with JSON
// errors, and puts the saved state back.
func TestSnapshotRoutes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ClusterID = "c1" })
	h.createTenant("acme")
	rec := h.doAs(h.token, "GET", "/v1/cluster/snapshot", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("save: %d %s", rec.Code, rec.Body)
	}
	saved := rec.Body.Bytes()
	a, err := consensus.ParseArchive(saved)
	if err != nil || a.Meta.ClusterID != "c1" || a.Meta.Counts["tenancy"]["tenants"] != 1 {
		t.Fatalf("archive %+v: %v", a, err)
	}
	h.createTenant("later")

	bad := bytes.Clone(saved)
	bad[len(bad)/2] ^= 1
	for _, tc := range []struct {
		name, path string
		body       []byte
		want       int
		code       string
	}{
		{"corrupt", "/v1/cluster/snapshot", bad, 400, "invalid_argument"},
		{"empty", "/v1/cluster/snapshot", nil, 400, "invalid_argument"},
	} {
		rec := h.doAs(h.token, "PUT", tc.path, string(tc.body))
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
	var foreign bytes.Buffer
	if _, err := h.store.SaveSnapshot(context.Background(), &foreign, consensus.ArchiveMeta{ClusterID: "c2"}); err != nil {
		t.Fatal(err)
	}
	if rec := h.doAs(h.token, "PUT", "/v1/cluster/snapshot", foreign.String()); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), `of cluster \"c2\"`) {
		t.Fatalf("foreign archive: %d %s", rec.Code, rec.Body)
	}
	if rec := h.doAs(h.token, "PUT", "/v1/cluster/snapshot", string(saved)); rec.Code != http.StatusOK {
		t.Fatalf("restore: %d %s", rec.Code, rec.Body)
	}
	if _, ok := h.store.state.Tenancy.Tenant("later"); ok || h.store.fsm.Hash() != a.Meta.StateHash {
		t.Fatal("the restore did not put the saved state back")
	}
	if rec := h.doAs(h.token, "PUT", "/v1/cluster/snapshot?force", foreign.String()); rec.Code != http.StatusOK {
		t.Fatalf("forced foreign restore: %d %s", rec.Code, rec.Body)
	}
}

// TestAutopilotRoutes: the autopilot settings are validated, replicated
// and reported over the flags.
func TestAutopilotRoutes(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{`{}`, `{"target_voters":4}`, `{"stabilization_seconds":0}`, `{"dead_server_grace_seconds":99999999}`, `{"voters":3}`, `{"cleanup_dead_servers":"no"}`} {
		if rec := h.doAs(h.token, "PUT", "/v1/operator/autopilot", body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body)
		}
	}
	var v autopilotView
	get := func() {
		t.Helper()
		rec := h.doAs(h.token, "GET", "/v1/operator/autopilot", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}
		v = autopilotView{}
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
	}
	get()
	if v.TargetVoters != 3 || v.StabilizationSeconds != 10 || !v.CleanupDeadServers || v.Replicated != (autopilotFields{}) {
		t.Fatalf("defaults: %+v", v)
	}
	rec := h.doAs(h.token, "PUT", "/v1/operator/autopilot", `{"target_voters":5,"stabilization_seconds":4,"cleanup_dead_servers":false}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("put: %d %s", rec.Code, rec.Body)
	}
	get()
	if v.TargetVoters != 5 || v.StabilizationSeconds != 4 || v.CleanupDeadServers || v.DeadServerGraceSeconds != 30 ||
		v.Replicated.TargetVoters == nil || v.Replicated.DeadServerGraceSeconds != nil {
		t.Fatalf("after put: %+v", v)
	}
}
