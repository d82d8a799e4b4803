package api

import (
	"net/http"
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
