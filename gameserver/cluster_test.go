package gameserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

type members []mesh.Member

func (m members) Members() []mesh.Member { return m }

func TestListAsksOtherMembers(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	h.register(key, "local-1", "")
	var gotAuth, gotQuery string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotQuery = r.Header.Get("Authorization"), r.URL.RawQuery
		_ = json.NewEncoder(w).Encode(api.GameServerList{Servers: []api.GameServer{{ID: "remote-1", Tenant: "acme", Node: "b"}}})
	}))
	t.Cleanup(peer.Close)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(dead.Close)
	h.gs.members = members{
		{Meta: mesh.Meta{Name: "node-a", HTTPAddr: "127.0.0.1:1"}, Status: mesh.StatusAlive}, // itself
		{Meta: mesh.Meta{Name: "b", HTTPAddr: strings.TrimPrefix(peer.URL, "http://")}, Status: mesh.StatusAlive},
		{Meta: mesh.Meta{Name: "c", HTTPAddr: strings.TrimPrefix(dead.URL, "http://")}, Status: mesh.StatusAlive},
		{Meta: mesh.Meta{Name: "d", HTTPAddr: "127.0.0.1:1"}, Status: mesh.StatusLeft},
	}
	list := h.gs.List(h.ctx(""), key, "acme", false)
	var ids []string
	for _, s := range list.Servers {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, ",") != "local-1,remote-1" || strings.Join(list.Unreachable, ",") != "c" {
		t.Fatalf("servers %v, unreachable %v", ids, list.Unreachable)
	}
	if gotAuth != "Bearer "+key || gotQuery != "scope=local" {
		t.Fatalf("asked with %q ?%s", gotAuth, gotQuery)
	}
	if local := h.gs.List(h.ctx(""), key, "acme", true); len(local.Servers) != 1 {
		t.Fatalf("local list %+v", local)
	}
}

func TestDrain(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	h.register(key, "local-1", "")
	st, err := h.client.WatchEvents(h.ctx(key), &cassnetv1.WatchEventsRequest{ServerId: "local-1"})
	if err != nil {
		t.Fatal(err)
	}
	recvWithin(t, st, time.Second) // the ban set
	if !h.gs.Drain(h.ctx(""), key, "acme", "local-1", true) {
		t.Fatal("local server not drained")
	}
	if ev := recvWithin(t, st, time.Second); ev.GetDrain() == nil {
		t.Fatalf("event %v, want drain", ev)
	}
	if got := h.gs.Servers(api.Principal{Kind: api.PrincipalOperator}, "acme")[0].State; got != "draining" {
		t.Fatalf("state %q", got)
	}
	// A server elsewhere is asked for on the other members.
	var asked string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.Method + " " + r.URL.String()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(peer.Close)
	h.gs.members = members{{Meta: mesh.Meta{Name: "b", HTTPAddr: strings.TrimPrefix(peer.URL, "http://")}, Status: mesh.StatusAlive}}
	if !h.gs.Drain(h.ctx(""), key, "acme", "remote-1", false) || asked != "POST /v1/tenants/acme/servers/remote-1/drain?scope=local" {
		t.Fatalf("remote drain: asked %q", asked)
	}
	if h.gs.Drain(h.ctx(""), key, "acme", "remote-1", true) {
		t.Fatal("local-only drain found a remote server")
	}
}
