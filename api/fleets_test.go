package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

const fleetBody = `{"command":["/opt/games/server","-batchmode"],"env":{"TOKEN":"s3cr3t-value"},
 "ports":[{"name":"game","protocol":"udp","range":"7000-7999"}],"buffer":{"ready":2},"max_servers":10,"max_per_node":5}`

// fakeFleets records power actions and answers logs.
type fakeFleets struct{ actions []string }

func (f *fakeFleets) Power(_ context.Context, tenant, server, action string) error {
	f.actions = append(f.actions, tenant+"/"+server+":"+action)
	return nil
}
func (f *fakeFleets) Logs(string, string, int) ([]LogLine, error) {
	return []LogLine{{Stream: "stdout", Text: "hello"}}, nil
}
func (f *fakeFleets) Process(_, server string) (ProcessInfo, error) {
	return ProcessInfo{Node: "node-a", PID: 42, State: "running", Ports: map[string]int{"game": 7000}}, nil
}
func (f *fakeFleets) Follow(context.Context, string, string) (<-chan LogLine, error) {
	ch := make(chan LogLine, 1)
	ch <- LogLine{Stream: "stdout", Text: "followed"}
	close(ch)
	return ch, nil
}

func TestFleetCRUD(t *testing.T) {
	ff := &fakeFleets{}
	h := newHarness(t, func(c *Config) { c.Fleets, c.MaxBodyBytes = ff, 64<<10 })
	h.createTenant("acme")
	h.createProject("acme", "arena")
	const path = "/v1/tenants/acme/projects/arena/fleets/ctf"
	rec := h.mustDo("PUT", path, fleetBody, http.StatusCreated)
	if strings.Contains(rec.Body.String(), "s3cr3t") || !strings.Contains(rec.Body.String(), `"TOKEN":"[redacted]"`) {
		t.Fatalf("PUT answer does not redact the env: %s", rec.Body)
	}
	h.mustDo("PUT", path, fleetBody, http.StatusOK)
	rec = h.mustDo("GET", path, "", http.StatusOK)
	v := decodeBody[fleetView](t, rec)
	if v.Status.Want != 2 || v.Spec.Env["TOKEN"] != "[redacted]" || len(v.Status.Disabled) != 2 {
		t.Fatalf("fleet view %+v", v)
	}
	rec = h.mustDo("GET", "/v1/tenants/acme/projects/arena/fleets", "", http.StatusOK)
	if !strings.Contains(rec.Body.String(), `"name":"ctf"`) || strings.Contains(rec.Body.String(), "s3cr3t") {
		t.Fatalf("list %s", rec.Body)
	}
	for _, bad := range []string{
		`{"command":["relative"],"buffer":{"ready":1},"max_servers":1}`,
		`{"command":["/a"],"env":{"CN_KEY":"x"},"buffer":{"ready":1},"max_servers":1}`,
		`{"command":["/a"],"buffer":{"ready":1},"max_servers":1,"unknown":1}`,
		`not json`,
	} {
		if rec := h.do("PUT", path, bad); rec.Code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s", bad, rec.Code, rec.Body)
		}
	}
	wantError(t, h.do("PUT", "/v1/tenants/acme/projects/ghost/fleets/ctf", fleetBody), http.StatusNotFound, "not_found")
	wantError(t, h.do("PUT", "/v1/tenants/acme/projects/arena/fleets/bad%20name", fleetBody), http.StatusBadRequest, "invalid_argument")

	// Power and logs: a fleet server on this node (node-a) goes to the
	// agent; a server without a fleet is refused.
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_PlaceFleetServers{PlaceFleetServers: &cassnetv1.PlaceFleetServers{
		Tenant: "acme", Project: "arena", Fleet: "ctf", FleetVersion: v.Version,
		Slots: []*cassnetv1.PlaceFleetServers_Slot{{Id: "ctf-1", Node: "node-a"}}}}})
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{
		Tenant: "acme", Project: "arena", Id: "plain", Node: "node-a", State: "ready"}}})
	h.mustDo("POST", "/v1/tenants/acme/servers/ctf-1/power", `{"action":"restart"}`, http.StatusAccepted)
	if len(ff.actions) != 1 || ff.actions[0] != "acme/ctf-1:restart" {
		t.Fatalf("actions %v", ff.actions)
	}
	wantError(t, h.do("POST", "/v1/tenants/acme/servers/ctf-1/power", `{"action":"explode"}`), http.StatusBadRequest, "invalid_argument")
	wantError(t, h.do("POST", "/v1/tenants/acme/servers/plain/power", `{"action":"stop"}`), http.StatusConflict, consensus.ErrConflict.Code)
	wantError(t, h.do("POST", "/v1/tenants/acme/servers/nope/power", `{"action":"stop"}`), http.StatusNotFound, "not_found")
	if rec := h.mustDo("GET", "/v1/tenants/acme/servers/ctf-1/logs?lines=5", "", http.StatusOK); !strings.Contains(rec.Body.String(), "hello") {
		t.Fatalf("logs %s", rec.Body)
	}
	wantError(t, h.do("GET", "/v1/tenants/acme/servers/ctf-1/logs?lines=0", ""), http.StatusBadRequest, "invalid_argument")
	if rec := h.mustDo("GET", "/v1/tenants/acme/servers/ctf-1/process", "", http.StatusOK); !strings.Contains(rec.Body.String(), `"pid":42`) {
		t.Fatalf("process %s", rec.Body)
	}
	if rec := h.mustDo("GET", "/v1/tenants/acme/servers/ctf-1/logs?follow=1", "", http.StatusOK); !strings.Contains(rec.Body.String(), "event: line") || !strings.Contains(rec.Body.String(), "followed") {
		t.Fatalf("follow %s", rec.Body)
	}
	// A project-scoped admin of another project does not see it.
	other, _ := h.newKey("acme", identity.RoleTenantAdmin, "", 0)
	if rec := h.doWith("GET", path, "", "Bearer "+other); rec.Code != http.StatusOK {
		t.Fatalf("tenant admin: %d", rec.Code)
	}
	h.mustDo("DELETE", path, "", http.StatusNoContent)
	wantError(t, h.do("GET", path, ""), http.StatusNotFound, "not_found")
	if _, ok := h.store.state.Servers.Server("acme", "ctf-1"); ok {
		t.Fatal("the fleet's server record outlived the fleet")
	}
	if strings.Contains(h.logs.String(), "s3cr3t") {
		t.Fatal("an env value reached the log")
	}
}
