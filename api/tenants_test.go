package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/tenancy"
)

func TestTenantLifecycle(t *testing.T) {
	h := newHarness(t)

	rec := h.mustDo("POST", "/v1/tenants", `{"name":"acme"}`, http.StatusCreated)
	got := decodeBody[tenancy.Tenant](t, rec)
	if got.Name != "acme" || got.CreatedBy != "operator:"+h.tokenID || !got.CreatedAt.Equal(h.clock.Now()) {
		t.Fatalf("created tenant = %+v", got)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/tenants/acme" {
		t.Errorf("Location = %q", loc)
	}
	if rec.Header().Get(headerIndex) == "" {
		t.Errorf("write response without %s", headerIndex)
	}

	h.createTenant("globex")
	list := decodeBody[struct{ Tenants []tenancy.Tenant }](t, h.mustDo("GET", "/v1/tenants", "", http.StatusOK))
	if len(list.Tenants) != 2 || list.Tenants[0].Name != "acme" || list.Tenants[1].Name != "globex" {
		t.Fatalf("tenants = %+v", list.Tenants)
	}

	one := decodeBody[tenancy.Tenant](t, h.mustDo("GET", "/v1/tenants/acme", "", http.StatusOK))
	if one.Name != "acme" {
		t.Fatalf("get tenant = %+v", one)
	}

	rec = h.mustDo("DELETE", "/v1/tenants/acme", "", http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("204 with a body: %s", rec.Body)
	}
	wantError(t, h.do("GET", "/v1/tenants/acme", ""), http.StatusNotFound, "not_found")
	wantError(t, h.do("DELETE", "/v1/tenants/acme", ""), http.StatusNotFound, "not_found")
}

func TestTenantListEmptyIsArray(t *testing.T) {
	h := newHarness(t)
	rec := h.mustDo("GET", "/v1/tenants", "", http.StatusOK)
	if !strings.Contains(rec.Body.String(), `"tenants":[]`) {
		t.Fatalf("empty list body = %s", rec.Body)
	}
}

func TestCreateTenantErrors(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"duplicate", `{"name":"acme"}`, http.StatusConflict, "conflict"},
		{"empty name", `{"name":""}`, http.StatusBadRequest, "invalid_argument"},
		{"missing name", `{}`, http.StatusBadRequest, "invalid_argument"},
		{"uppercase", `{"name":"Acme"}`, http.StatusBadRequest, "invalid_argument"},
		{"slash", `{"name":"a/b"}`, http.StatusBadRequest, "invalid_argument"},
		{"too long", `{"name":"` + strings.Repeat("a", 64) + `"}`, http.StatusBadRequest, "invalid_argument"},
		{"malformed", `{"name":`, http.StatusBadRequest, "invalid_json"},
		{"not json", `name=acme`, http.StatusBadRequest, "invalid_json"},
		{"unknown field", `{"name":"x","owner":"y"}`, http.StatusBadRequest, "invalid_json"},
		{"trailing data", `{"name":"x"} {"name":"y"}`, http.StatusBadRequest, "invalid_json"},
		{"trailing garbage", `{"name":"x"}xyz`, http.StatusBadRequest, "invalid_json"},
		{"wrong type", `{"name":42}`, http.StatusBadRequest, "invalid_json"},
		{"array", `[1,2]`, http.StatusBadRequest, "invalid_json"},
		{"empty body", ``, http.StatusBadRequest, "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.do("POST", "/v1/tenants", tt.body), tt.status, tt.code)
		})
	}
	// Trailing whitespace is fine.
	h.mustDo("POST", "/v1/tenants", "{\"name\":\"ok\"}\n\t ", http.StatusCreated)
}

func TestProjects(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")

	rec := h.mustDo("POST", "/v1/tenants/acme/projects", `{"name":"rocket"}`, http.StatusCreated)
	p := decodeBody[tenancy.Project](t, rec)
	if p.Tenant != "acme" || p.Name != "rocket" || p.CreatedBy != "operator:"+h.tokenID {
		t.Fatalf("project = %+v", p)
	}
	h.createProject("acme", "anvil")
	list := decodeBody[struct{ Projects []tenancy.Project }](t, h.mustDo("GET", "/v1/tenants/acme/projects", "", http.StatusOK))
	if len(list.Projects) != 2 {
		t.Fatalf("projects = %+v", list.Projects)
	}

	wantError(t, h.do("POST", "/v1/tenants/acme/projects", `{"name":"rocket"}`), http.StatusConflict, "conflict")
	wantError(t, h.do("POST", "/v1/tenants/nope/projects", `{"name":"rocket"}`), http.StatusNotFound, "not_found")
	wantError(t, h.do("POST", "/v1/tenants/acme/projects", `{"name":"Bad Name"}`), http.StatusBadRequest, "invalid_argument")
	wantError(t, h.do("GET", "/v1/tenants/nope/projects", ""), http.StatusNotFound, "not_found")
}

func TestAudit(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	for i := range 5 {
		h.createProject("acme", fmt.Sprintf("p%d", i))
	}
	h.createTenant("other")

	all := decodeBody[struct{ Entries []audit.Entry }](t, h.mustDo("GET", "/v1/tenants/acme/audit", "", http.StatusOK))
	if len(all.Entries) != 6 {
		t.Fatalf("got %d audit entries, want 6: %+v", len(all.Entries), all.Entries)
	}
	if all.Entries[0].Target != "p4" || all.Entries[5].Action != "tenant.create" {
		t.Fatalf("audit is not newest first: %+v", all.Entries)
	}
	for _, e := range all.Entries {
		if e.Tenant != "acme" || e.Actor != "operator:"+h.tokenID {
			t.Fatalf("unexpected entry %+v", e)
		}
	}

	lim := decodeBody[struct{ Entries []audit.Entry }](t, h.mustDo("GET", "/v1/tenants/acme/audit?limit=2", "", http.StatusOK))
	if len(lim.Entries) != 2 || lim.Entries[0].Target != "p4" {
		t.Fatalf("limit=2 gave %+v", lim.Entries)
	}
	h.mustDo("GET", "/v1/tenants/acme/audit?limit=5000", "", http.StatusOK) // capped, not rejected
	for _, bad := range []string{"0", "-1", "x", ""} {
		wantError(t, h.do("GET", "/v1/tenants/acme/audit?limit="+bad, ""), http.StatusBadRequest, "invalid_argument")
	}
}
