package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/cassandranet/cassnet/state/identity"
)

func TestGameServerRoutes(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	h.createProject("acme", "other")
	otherOnly, _ := h.newKey("acme", identity.RoleGameServer, "other", 0)
	reader, _ := h.newKey("acme", identity.RoleReadOnly, "", 0)

	list := decodeBody[GameServerList](t, h.mustDo("GET", "/v1/tenants/acme/servers", "", http.StatusOK))
	if len(list.Servers) != 1 || list.Servers[0].ID != "gs-1" || list.Unreachable == nil {
		t.Fatalf("list = %+v", list)
	}
	if rec := h.doAs(reader, "GET", "/v1/tenants/acme/servers/gs-1", ""); rec.Code != http.StatusOK {
		t.Fatalf("get as reader: %d %s", rec.Code, rec.Body)
	}
	// A key scoped to another project sees neither the list entry nor the server.
	rec := h.doAs(otherOnly, "GET", "/v1/tenants/acme/servers", "")
	if got := decodeBody[GameServerList](t, rec); len(got.Servers) != 0 {
		t.Fatalf("scoped key sees %+v", got.Servers)
	}
	if rec := h.doAs(otherOnly, "GET", "/v1/tenants/acme/servers/gs-1", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("scoped get: %d", rec.Code)
	}
	h.mustDo("GET", "/v1/tenants/acme/servers/nope", "", http.StatusNotFound)
	h.mustDo("POST", "/v1/tenants/acme/servers/gs-1/drain", "", http.StatusAccepted)
	h.mustDo("POST", "/v1/tenants/acme/servers/nope/drain", "", http.StatusNotFound)
	h.mustDo("GET", "/v1/tenants/ghost/servers", "", http.StatusNotFound)
}

func TestGameServerFilters(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	for _, c := range []struct {
		query string
		want  int
	}{
		{"", 1}, {"?state=ready", 1}, {"?state=allocated", 0}, {"?project_id=rocket", 1}, {"?project_id=other", 0},
		{"?node=a", 1}, {"?node=b", 0}, {"?fleet=x", 0}, {"?label=mode=ctf", 0},
	} {
		list := decodeBody[GameServerList](t, h.mustDo("GET", "/v1/tenants/acme/servers"+c.query, "", http.StatusOK))
		if len(list.Servers) != c.want {
			t.Errorf("%q: %d servers, want %d", c.query, len(list.Servers), c.want)
		}
	}
	h.mustDo("GET", "/v1/tenants/acme/servers?state=bogus", "", http.StatusBadRequest)
	h.mustDo("GET", "/v1/tenants/acme/servers?label=nokey", "", http.StatusBadRequest)
}

// FuzzServerFilter: any query either parses into a filter that matches
// what it names, or is refused with a 400; it never panics.
func FuzzServerFilter(f *testing.F) {
	for _, q := range []string{"state=ready", "label=mode=ctf&label=map=dust", "label==", "label=a", "project_id=p&fleet=f&node=n", "%zz"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest("GET", "/v1/tenants/acme/servers", nil)
		r.URL.RawQuery = q
		flt, err := serverFilter(r)
		if err != nil {
			return
		}
		vals, _ := url.ParseQuery(q)
		g := GameServer{ProjectID: vals.Get("project_id"), Fleet: vals.Get("fleet"), Node: vals.Get("node"), State: vals.Get("state"), Labels: flt.Labels}
		if !flt.match(g) {
			t.Fatalf("filter %+v does not match the server it names (%q)", flt, q)
		}
	})
}
