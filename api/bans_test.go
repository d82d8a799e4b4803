package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/bans"
)

type banCheckBody struct {
	Banned bool      `json:"banned"`
	Ban    *bans.Ban `json:"ban"`
}

func (h *harness) createBan(tenant, body string) bans.Ban {
	h.t.Helper()
	return decodeBody[bans.Ban](h.t, h.mustDo("POST", "/v1/tenants/"+tenant+"/bans", body, http.StatusCreated))
}

func (h *harness) check(target string) banCheckBody {
	h.t.Helper()
	return decodeBody[banCheckBody](h.t, h.mustDo("GET", target, "", http.StatusOK))
}

func TestBanLifecycle(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")

	rec := h.mustDo("POST", "/v1/tenants/acme/bans",
		`{"player_id":"steam:42","reason":"aimbot","duration_seconds":3600}`, http.StatusCreated)
	ban := decodeBody[bans.Ban](t, rec)
	if err := bans.ValidateID(ban.ID); err != nil || !strings.HasPrefix(ban.ID, "ban_") {
		t.Fatalf("ban id %q: %v", ban.ID, err)
	}
	now := h.clock.Now()
	if ban.Tenant != "acme" || ban.PlayerID != "steam:42" || ban.Reason != "aimbot" ||
		ban.ProjectID != "" || ban.CreatedBy != "operator:"+h.tokenID || !ban.CreatedAt.Equal(now) ||
		ban.ExpiresAt == nil || !ban.ExpiresAt.Equal(now.Add(time.Hour)) || ban.RevokedAt != nil {
		t.Fatalf("created ban = %+v", ban)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/tenants/acme/bans/"+ban.ID {
		t.Errorf("Location = %q", loc)
	}

	got := decodeBody[bans.Ban](t, h.mustDo("GET", "/v1/tenants/acme/bans/"+ban.ID, "", http.StatusOK))
	if got.ID != ban.ID {
		t.Fatalf("get ban = %+v", got)
	}

	perm := h.createBan("acme", `{"player_id":"steam:7","reason":""}`)
	if perm.ExpiresAt != nil {
		t.Fatalf("ban without duration expires: %+v", perm)
	}

	list := decodeBody[struct{ Bans []bans.Ban }](t, h.mustDo("GET", "/v1/tenants/acme/bans", "", http.StatusOK))
	if len(list.Bans) != 2 {
		t.Fatalf("bans = %+v", list.Bans)
	}
	list = decodeBody[struct{ Bans []bans.Ban }](t, h.mustDo("GET", "/v1/tenants/acme/bans?player_id=steam%3A42", "", http.StatusOK))
	if len(list.Bans) != 1 || list.Bans[0].ID != ban.ID {
		t.Fatalf("player filter: %+v", list.Bans)
	}

	revoked := decodeBody[bans.Ban](t, h.mustDo("DELETE", "/v1/tenants/acme/bans/"+ban.ID, "", http.StatusOK))
	if revoked.RevokedAt == nil || revoked.RevokedBy != "operator:"+h.tokenID {
		t.Fatalf("revoked ban = %+v", revoked)
	}
	wantError(t, h.do("DELETE", "/v1/tenants/acme/bans/"+ban.ID, ""), http.StatusConflict, "conflict")

	list = decodeBody[struct{ Bans []bans.Ban }](t, h.mustDo("GET", "/v1/tenants/acme/bans?active=true", "", http.StatusOK))
	if len(list.Bans) != 1 || list.Bans[0].ID != perm.ID {
		t.Fatalf("active filter: %+v", list.Bans)
	}
	wantError(t, h.do("GET", "/v1/tenants/acme/bans?active=maybe", ""), http.StatusBadRequest, "invalid_argument")
}

func TestBanErrors(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"unknown tenant", "/v1/tenants/nope/bans", `{"player_id":"p1"}`, 404, "not_found"},
		{"unknown project", "/v1/tenants/acme/bans", `{"player_id":"p1","project_id":"nope"}`, 404, "not_found"},
		{"missing player", "/v1/tenants/acme/bans", `{"reason":"x"}`, 400, "invalid_argument"},
		{"bad player", "/v1/tenants/acme/bans", `{"player_id":"a b"}`, 400, "invalid_argument"},
		{"control chars", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"a\u0007b"}`, 400, "invalid_argument"},
		{"long reason", "/v1/tenants/acme/bans", `{"player_id":"p1","reason":"` + strings.Repeat("x", 513) + `"}`, 400, "invalid_argument"},
		{"negative duration", "/v1/tenants/acme/bans", `{"player_id":"p1","duration_seconds":-1}`, 400, "invalid_argument"},
		{"huge duration", "/v1/tenants/acme/bans", `{"player_id":"p1","duration_seconds":9223372036854775807}`, 400, "invalid_argument"},
		{"bad project", "/v1/tenants/acme/bans", `{"player_id":"p1","project_id":"A B"}`, 400, "invalid_argument"},
		{"duration string", "/v1/tenants/acme/bans", `{"player_id":"p1","duration_seconds":"1h"}`, 400, "invalid_json"},
		{"client id", "/v1/tenants/acme/bans", `{"player_id":"p1","id":"ban_mine"}`, 400, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.do("POST", tt.target, tt.body), tt.status, tt.code)
		})
	}
	wantError(t, h.do("GET", "/v1/tenants/acme/bans/ban_0000000000000000", ""), 404, "not_found")
	wantError(t, h.do("DELETE", "/v1/tenants/acme/bans/ban_0000000000000000", ""), 404, "not_found")
	wantError(t, h.do("GET", "/v1/tenants/nope/bans", ""), 404, "not_found")
}

// TestBanCheckSemantics: tenant-wide bans cover every project, project bans
// only their project, and expiry and revocation end a ban.
func TestBanCheckSemantics(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	h.createProject("acme", "anvil")

	wide := h.createBan("acme", `{"player_id":"p-wide","reason":"cheating","duration_seconds":60}`)
	proj := h.createBan("acme", `{"player_id":"p-proj","reason":"toxic","project_id":"rocket"}`)

	tests := []struct {
		player, project string
		want            string // ban id, or "" for not banned
	}{
		{"p-wide", "", wide.ID},
		{"p-wide", "rocket", wide.ID},
		{"p-wide", "anvil", wide.ID},
		{"p-proj", "", ""},
		{"p-proj", "rocket", proj.ID},
		{"p-proj", "anvil", ""},
		{"nobody", "rocket", ""},
	}
	for _, tt := range tests {
		target := "/v1/tenants/acme/players/" + tt.player + "/ban"
		if tt.project != "" {
			target += "?project_id=" + tt.project
		}
		got := h.check(target)
		switch {
		case tt.want == "" && (got.Banned || got.Ban != nil):
			t.Errorf("%s: banned by %+v, want not banned", target, got.Ban)
		case tt.want != "" && (!got.Banned || got.Ban == nil || got.Ban.ID != tt.want):
			t.Errorf("%s: got %+v, want ban %s", target, got, tt.want)
		}
	}

	rec := h.mustDo("GET", "/v1/tenants/acme/players/nobody/ban", "", http.StatusOK)
	if body := rec.Body.String(); body != `{"banned":false,"ban":null}`+"\n" {
		t.Errorf("not-banned body = %q", body)
	}

	// Expiry is judged by the server's clock.
	h.clock.Advance(61 * time.Second)
	if got := h.check("/v1/tenants/acme/players/p-wide/ban"); got.Banned {
		t.Errorf("expired ban still active: %+v", got.Ban)
	}
	h.mustDo("DELETE", "/v1/tenants/acme/bans/"+proj.ID, "", http.StatusOK)
	if got := h.check("/v1/tenants/acme/players/p-proj/ban?project_id=rocket"); got.Banned {
		t.Errorf("revoked ban still active: %+v", got.Ban)
	}

	wantError(t, h.do("GET", "/v1/tenants/nope/players/p1/ban", ""), 404, "not_found")
	wantError(t, h.do("GET", "/v1/tenants/acme/players/p1/ban?project_id=nope", ""), 404, "not_found")
}

// TestBanCheckConsistency: the ban check is stale unless asked otherwise;
// other reads default to Default.
func TestBanCheckConsistency(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	tests := []struct {
		target string
		want   consensus.Consistency
	}{
		{"/v1/tenants/acme/players/p1/ban", consensus.Stale},
		{"/v1/tenants/acme/players/p1/ban?stale", consensus.Stale},
		{"/v1/tenants/acme/players/p1/ban?consistent", consensus.Consistent},
		{"/v1/tenants/acme/players/p1/ban?default", consensus.Default},
		{"/v1/tenants/acme", consensus.Default},
		{"/v1/tenants/acme?stale", consensus.Stale},
		{"/v1/tenants/acme?consistent=", consensus.Consistent},
		{"/v1/tenants?consistent", consensus.Consistent},
	}
	for _, tt := range tests {
		h.mustDo("GET", tt.target, "", http.StatusOK)
		if got, _ := h.store.lastMode(); got != tt.want {
			t.Errorf("%s: read mode %v, want %v", tt.target, got, tt.want)
		}
	}
	wantError(t, h.do("GET", "/v1/tenants/acme/players/p1/ban?stale&consistent", ""), 400, "invalid_argument")
}
