package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/servers"
)

// allocHarness is a harness whose body limit fits an allocation request,
// with tenant acme (projects arena and lobby) and servers registered
// through replicated commands:
//
//	gs-1  arena        node a  mode=ctf  capacity 10
//	gs-2  arena        node b  mode=ctf  capacity 10
//	gs-3  lobby  blue  node a  mode=dm   capacity 10
func allocHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 64 << 10 })
	h.createTenant("acme")
	h.createProject("acme", "arena")
	h.createProject("acme", "lobby")
	for _, g := range []struct{ id, project, fleet, node, mode string }{
		{"gs-1", "arena", "", "a", "ctf"},
		{"gs-2", "arena", "", "b", "ctf"},
		{"gs-3", "lobby", "blue", "a", "dm"},
	} {
		h.replicate(registerServerCmd("acme", g.project, g.fleet, g.id, g.node, map[string]string{"mode": g.mode}))
	}
	return h
}

func registerServerCmd(tenant, project, fleet, id, node string, labels map[string]string) *cassnetv1.Command {
	return &cassnetv1.Command{Op: &cassnetv1.Command_RegisterServer{RegisterServer: &cassnetv1.RegisterServer{
		Tenant: tenant, Project: project, Fleet: fleet, Id: id, Node: node, Address: "10.0.0.9",
		Ports: map[string]uint32{"game": 7777}, Labels: labels, Capacity: 10, State: servers.StateReady,
	}}}
}

// allocationBody is the documented answer of an allocation.
type allocationBody struct {
	AllocationID string            `json:"allocation_id"`
	ServerID     string            `json:"server_id"`
	Node         string            `json:"node"`
	Address      string            `json:"address"`
	Ports        map[string]uint32 `json:"ports"`
	State        string            `json:"state"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	CreatedAt    string            `json:"created_at"`
	ProjectID    string            `json:"project_id"`
	Fleet        string            `json:"fleet"`
}

const allocPath = "/v1/tenants/acme/allocations"

func TestAllocateCreated(t *testing.T) {
	h := allocHarness(t)
	rec := h.mustDo("POST", allocPath, `{"project_id":"arena",
		"selectors":[{"labels":{"mode":"ctf"},"state":"ready"},{"labels":{"mode":"ctf"},"state":"allocated","min_free_players":4}],
		"strategy":"packed","metadata":{"labels":{"match":"m-42"},"annotations":{"map":"dust"}},"idempotency_key":"m-42"}`, http.StatusCreated)
	// Every documented field is present.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"allocation_id", "server_id", "node", "address", "ports", "state", "labels", "annotations", "created_at"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("answer lacks %q: %s", f, rec.Body)
		}
	}
	a := decodeBody[allocationBody](t, rec)
	if a.ServerID != "gs-1" || a.Node != "a" || a.Address != "10.0.0.9" || a.Ports["game"] != 7777 || a.State != "allocated" ||
		a.Labels["mode"] != "ctf" || a.Labels["match"] != "m-42" || a.Annotations["map"] != "dust" ||
		a.CreatedAt != h.clock.Now().Format("2006-01-02T15:04:05Z07:00") || !strings.HasPrefix(a.AllocationID, "alloc_") {
		t.Fatalf("allocation %+v", a)
	}
	if loc := rec.Header().Get("Location"); loc != allocPath+"/"+a.AllocationID {
		t.Fatalf("Location %q", loc)
	}
	if rec.Header().Get(headerIndex) == "" {
		t.Fatal("no index header")
	}
	if s, _ := h.store.state.Servers.Server("acme", "gs-1"); s.State != servers.StateAllocated || s.AllocationID != a.AllocationID {
		t.Fatalf("server %+v", s)
	}

	// The same idempotency key answers 200 with the same body and takes
	// no second server.
	index := h.store.Applied().Index()
	again := h.mustDo("POST", allocPath, `{"project_id":"arena","selectors":[{"labels":{"mode":"ctf"}}],"idempotency_key":"m-42"}`, http.StatusOK)
	if !bytes.Equal(again.Body.Bytes(), rec.Body.Bytes()) {
		t.Fatalf("replay body %s, want %s", again.Body, rec.Body)
	}
	if again.Header().Get("Location") != "" {
		t.Fatal("a replay answers a Location")
	}
	if s, _ := h.store.state.Servers.Server("acme", "gs-2"); s.State != servers.StateReady {
		t.Fatal("a replay allocated a second server")
	}
	if h.store.Applied().Index() != index+1 {
		t.Fatalf("applied index %d, want %d (one entry)", h.store.Applied().Index(), index+1)
	}

	// The next ctf request takes gs-2, then there is no capacity: 409.
	second := decodeBody[allocationBody](t, h.mustDo("POST", allocPath, `{"selectors":[{"labels":{"mode":"ctf"}}]}`, http.StatusCreated))
	if second.ServerID != "gs-2" {
		t.Fatalf("second allocation %+v", second)
	}
	e := wantError(t, h.do("POST", allocPath, `{"selectors":[{"labels":{"mode":"ctf"}}]}`), http.StatusConflict, "no_capacity")
	if !strings.Contains(e.Message, "acme") {
		t.Fatalf("no_capacity message %q", e.Message)
	}
	// Backfill finds room on an allocated server.
	bf := decodeBody[allocationBody](t, h.mustDo("POST", allocPath,
		`{"selectors":[{"labels":{"mode":"ctf"},"state":"allocated","min_free_players":10}]}`, http.StatusCreated))
	if bf.ServerID != "gs-1" {
		t.Fatalf("backfill %+v", bf)
	}
}

func TestAllocateRoles(t *testing.T) {
	h := allocHarness(t)
	gameServer, _ := h.newKey("acme", identity.RoleGameServer, "arena", 0)
	reader, _ := h.newKey("acme", identity.RoleReadOnly, "", 0)
	admin, _ := h.newKey("acme", identity.RoleTenantAdmin, "", 0)
	mm, _ := h.newKey("acme", identity.RoleMatchmaker, "arena", 0)
	h.createTenant("bravo")
	bravo, _ := h.newKey("bravo", identity.RoleMatchmaker, "", 0)
	body := `{"selectors":[{"labels":{"mode":"ctf"}}]}`

	for _, c := range []struct {
		name, cred string
		status     int
	}{
		{"game server", gameServer, http.StatusForbidden},
		{"read-only", reader, http.StatusForbidden},
		{"other tenant", bravo, http.StatusNotFound},
	} {
		index := h.store.Applied().Index()
		rec := h.doAs(c.cred, "POST", allocPath, body)
		if rec.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.status)
		}
		if h.store.Applied().Index() != index {
			t.Errorf("%s: a refused allocation was written", c.name)
		}
	}

	// The project-scoped matchmaker may not allocate in another project...
	index := h.store.Applied().Index()
	wantError(t, h.doAs(mm, "POST", allocPath, `{"project_id":"lobby"}`), http.StatusNotFound, "not_found")
	if h.store.Applied().Index() != index {
		t.Fatal("an allocation in a project the key cannot see was written")
	}
	// ...and without naming one it is confined to its own: gs-3 (lobby)
	// is never handed out.
	var got []allocationBody
	for range 2 {
		rec := h.doAs(mm, "POST", allocPath, `{}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("matchmaker allocate: %d %s", rec.Code, rec.Body)
		}
		got = append(got, decodeBody[allocationBody](t, rec))
	}
	if got[0].ProjectID != "arena" || got[1].ProjectID != "arena" {
		t.Fatalf("matchmaker allocations %+v", got)
	}
	wantError(t, h.doAs(mm, "POST", allocPath, `{}`), http.StatusConflict, "no_capacity")

	// The matchmaker reads its own project's allocations, not others'.
	lobby := decodeBody[allocationBody](t, h.doAs(admin, "POST", allocPath, `{"project_id":"lobby"}`))
	if lobby.ServerID != "gs-3" {
		t.Fatalf("admin allocation %+v", lobby)
	}
	if rec := h.doAs(mm, "GET", allocPath+"/"+lobby.AllocationID, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("matchmaker reads another project's allocation: %d", rec.Code)
	}
	if rec := h.doAs(mm, "GET", allocPath+"/"+got[0].AllocationID, ""); rec.Code != http.StatusOK {
		t.Fatalf("matchmaker get: %d %s", rec.Code, rec.Body)
	}
	list := decodeBody[struct{ Allocations []allocationBody }](t, h.doAs(mm, "GET", allocPath, ""))
	if len(list.Allocations) != 2 {
		t.Fatalf("matchmaker list %+v", list)
	}
	if rec := h.doAs(mm, "GET", allocPath+"?project_id=lobby", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("matchmaker list of another project: %d", rec.Code)
	}
	// A matchmaker reads servers (the summary of its project) and nothing else.
	if rec := h.doAs(mm, "GET", "/v1/tenants/acme/projects/arena/servers/summary", ""); rec.Code != http.StatusOK {
		t.Fatalf("matchmaker summary: %d", rec.Code)
	}
	if rec := h.doAs(mm, "GET", "/v1/tenants/acme/projects/lobby/servers/summary", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("matchmaker summary of another project: %d", rec.Code)
	}
	for _, path := range []string{"/v1/tenants/acme/bans", "/v1/tenants/acme/projects", "/v1/cluster/nodes"} {
		if rec := h.doAs(mm, "GET", path, ""); rec.Code != http.StatusForbidden {
			t.Errorf("matchmaker GET %s: %d, want 403", path, rec.Code)
		}
	}
	// A game-server key may read servers but not allocations.
	if rec := h.doAs(gameServer, "GET", allocPath, ""); rec.Code != http.StatusForbidden {
		t.Errorf("game server lists allocations: %d", rec.Code)
	}
}

func TestAllocateBadInput(t *testing.T) {
	h := allocHarness(t)
	tests := []struct {
		name, body string
		status     int
		code       string
		field      string // named in the message
	}{
		{"unknown strategy", `{"strategy":"spread"}`, 400, "invalid_argument", "strategy"},
		{"unknown state", `{"selectors":[{"state":"idle"}]}`, 400, "invalid_argument", "selectors[0].state"},
		{"state not allocatable", `{"selectors":[{},{"state":"unhealthy"}]}`, 400, "invalid_argument", "selectors[1].state"},
		{"min_free_players on ready", `{"selectors":[{"state":"ready","min_free_players":2}]}`, 400, "invalid_argument", "selectors[0].min_free_players"},
		{"17 selectors", `{"selectors":[` + strings.Repeat(`{},`, 16) + `{}]}`, 400, "invalid_argument", "selectors"},
		{"selector label key", `{"selectors":[{"labels":{"-mode":"ctf"}}]}`, 400, "invalid_argument", "selectors[0].labels"},
		{"selector label value", `{"selectors":[{"labels":{"mode":"c t f"}}]}`, 400, "invalid_argument", "selectors[0].labels"},
		{"label name 64", `{"metadata":{"labels":{"` + strings.Repeat("a", 64) + `":"v"}}}`, 400, "invalid_argument", "metadata.labels"},
		{"label value 64", `{"metadata":{"labels":{"k":"` + strings.Repeat("a", 64) + `"}}}`, 400, "invalid_argument", "metadata.labels"},
		{"label prefix 254", `{"metadata":{"labels":{"` + strings.Repeat("a.", 127) + `/k":"v"}}}`, 400, "invalid_argument", "metadata.labels"},
		{"label prefix uppercase", `{"metadata":{"labels":{"Example.com/k":"v"}}}`, 400, "invalid_argument", "metadata.labels"},
		{"annotation key", `{"metadata":{"annotations":{"bad key":"v"}}}`, 400, "invalid_argument", "metadata.annotations"},
		{"metadata over 16 KiB", `{"metadata":{"annotations":{"a":"` + strings.Repeat("x", 9<<10) + `","b":"` + strings.Repeat("x", 8<<10) + `"}}}`, 400, "invalid_argument", "metadata"},
		{"bad idempotency key", `{"idempotency_key":"m 42"}`, 400, "invalid_argument", "idempotency_key"},
		{"bad fleet", `{"fleet":"Blue Fleet"}`, 400, "invalid_argument", "fleet"},
		{"bad project", `{"project_id":"Arena"}`, 400, "invalid_argument", "project_id"},
		{"unknown project", `{"project_id":"ghost"}`, 404, "not_found", "ghost"},
		// Malformed JSON shapes are the decoder's: 400 invalid_json, naming the field.
		{"selectors not a list", `{"selectors":{"state":"ready"}}`, 400, "invalid_json", "selectors"},
		{"selector labels not a map", `{"selectors":[{"labels":"mode=ctf"}]}`, 400, "invalid_json", "selectors.labels"},
		{"negative min_free_players", `{"selectors":[{"state":"allocated","min_free_players":-1}]}`, 400, "invalid_json", "min_free_players"},
		{"unknown selector field", `{"selectors":[{"lables":{}}]}`, 400, "invalid_json", "lables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index, hash := h.store.Applied().Index(), h.store.fsm.Hash()
			e := wantError(t, h.do("POST", allocPath, tt.body), tt.status, tt.code)
			if !strings.Contains(e.Message, tt.field) {
				t.Errorf("message %q does not name %q", e.Message, tt.field)
			}
			if h.store.Applied().Index() != index || h.store.fsm.Hash() != hash {
				t.Error("a bad request was written")
			}
		})
	}
	// A body over the limit is 413, and nothing is written.
	index := h.store.Applied().Index()
	big := `{"metadata":{"annotations":{"a":"` + strings.Repeat("x", maxAllocateBody) + `"}}}`
	wantError(t, h.do("POST", allocPath, big), http.StatusRequestEntityTooLarge, codePayloadTooLarge)
	small := newHarness(t) // MaxBodyBytes 1024
	small.createTenant("acme")
	wantError(t, small.do("POST", allocPath, `{"fleet":"`+strings.Repeat("x", 1100)+`"}`), http.StatusRequestEntityTooLarge, codePayloadTooLarge)
	if h.store.Applied().Index() != index {
		t.Fatal("an oversized request was written")
	}
	// An unknown tenant is 404.
	wantError(t, h.do("POST", "/v1/tenants/ghost/allocations", `{}`), http.StatusNotFound, "not_found")
}

func TestAllocationReads(t *testing.T) {
	h := allocHarness(t)
	var ids []string
	for _, body := range []string{`{"project_id":"arena"}`, `{"project_id":"lobby"}`, `{"project_id":"arena"}`} {
		h.clock.Advance(1e9)
		ids = append(ids, decodeBody[allocationBody](t, h.mustDo("POST", allocPath, body, http.StatusCreated)).AllocationID)
	}
	got := decodeBody[allocationBody](t, h.mustDo("GET", allocPath+"/"+ids[1], "", http.StatusOK))
	if got.ServerID != "gs-3" || got.Fleet != "blue" || got.ProjectID != "lobby" {
		t.Fatalf("GET allocation %+v", got)
	}
	wantError(t, h.do("GET", allocPath+"/alloc_nope", ""), http.StatusNotFound, "not_found")

	tests := []struct {
		query string
		want  []string // allocation ids, newest first
	}{
		{"", []string{ids[2], ids[1], ids[0]}},
		{"?project_id=arena", []string{ids[2], ids[0]}},
		{"?fleet=blue", []string{ids[1]}},
		{"?server_id=gs-2", []string{ids[2]}},
		{"?node=a", []string{ids[1], ids[0]}},
		{"?limit=1", []string{ids[2]}},
		{"?project_id=arena&limit=1", []string{ids[2]}},
		{"?node=zz", nil},
	}
	for _, tt := range tests {
		list := decodeBody[struct {
			Allocations []allocationBody `json:"allocations"`
		}](t, h.mustDo("GET", allocPath+tt.query, "", http.StatusOK))
		var gotIDs []string
		for _, a := range list.Allocations {
			gotIDs = append(gotIDs, a.AllocationID)
		}
		if strings.Join(gotIDs, ",") != strings.Join(tt.want, ",") {
			t.Errorf("list%s = %v, want %v", tt.query, gotIDs, tt.want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x"} {
		e := wantError(t, h.do("GET", allocPath+q, ""), http.StatusBadRequest, "invalid_argument")
		if !strings.Contains(e.Message, "limit") {
			t.Errorf("list%s message %q", q, e.Message)
		}
	}
	if rec := h.mustDo("GET", allocPath+"?node=zz", "", http.StatusOK); !strings.Contains(rec.Body.String(), `"allocations":[]`) {
		t.Errorf("empty list is %s", rec.Body)
	}
	wantError(t, h.do("GET", "/v1/tenants/ghost/allocations", ""), http.StatusNotFound, "not_found")

	// The summary counts the project's servers by state, fleet and node.
	h.replicate(&cassnetv1.Command{Op: &cassnetv1.Command_UpdateServerPlayers{UpdateServerPlayers: &cassnetv1.UpdateServerPlayers{
		Entries: []*cassnetv1.UpdateServerPlayers_Entry{{Tenant: "acme", Id: "gs-1", Players: 3}, {Tenant: "acme", Id: "gs-3", Players: 9}}}}})
	h.replicate(registerServerCmd("acme", "arena", "red", "gs-4", "b", nil))
	sum := decodeBody[servers.Summary](t, h.mustDo("GET", "/v1/tenants/acme/projects/arena/servers/summary", "", http.StatusOK))
	if sum.Servers != 3 || sum.Players != 3 || sum.Capacity != 30 || sum.ByState["allocated"] != 2 || sum.ByState["ready"] != 1 ||
		sum.ByFleet[""] != 2 || sum.ByFleet["red"] != 1 || sum.ByNode["a"] != 1 || sum.ByNode["b"] != 2 {
		t.Fatalf("summary %+v", sum)
	}
	wantError(t, h.do("GET", "/v1/tenants/acme/projects/ghost/servers/summary", ""), http.StatusNotFound, "not_found")
}

type nodesBody struct {
	Nodes []struct {
		Name        string         `json:"name"`
		Schedulable bool           `json:"schedulable"`
		Servers     map[string]int `json:"servers"`
		Players     uint64         `json:"players"`
		RaftRole    string         `json:"raft_role"`
		Status      string         `json:"status"`
	} `json:"nodes"`
}

func TestNodesDrainUncordon(t *testing.T) {
	h := allocHarness(t)
	h.mustDo("POST", allocPath, `{"project_id":"lobby"}`, http.StatusCreated) // gs-3 on a
	first := true
	nodes := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		body := decodeBody[nodesBody](t, h.mustDo("GET", "/v1/cluster/nodes", "", http.StatusOK))
		for i, n := range body.Nodes {
			if i > 0 && body.Nodes[i-1].Name >= n.Name {
				t.Fatalf("nodes not sorted: %+v", body.Nodes)
			}
			if n.Schedulable {
				out[n.Name] = 1
			}
		}
		if len(body.Nodes) != 4 {
			t.Fatalf("nodes %+v", body.Nodes)
		}
		if first && (body.Nodes[0].Name != "a" || body.Nodes[0].Servers["ready"] != 1 || body.Nodes[0].Servers["allocated"] != 1 ||
			body.Nodes[1].Servers["ready"] != 1 || len(body.Nodes[2].Servers) != 0) {
			t.Fatalf("nodes %+v", body.Nodes)
		}
		first = false
		return out
	}
	if got := nodes(); len(got) != 4 {
		t.Fatalf("schedulable %v, want all four", got)
	}
	rec := h.mustDo("POST", "/v1/cluster/nodes/a/drain", "", http.StatusOK)
	if v := decodeBody[struct{ Schedulable bool }](t, rec); v.Schedulable {
		t.Fatal("drain answered schedulable")
	}
	if got := nodes(); got["a"] != 0 || len(got) != 3 {
		t.Fatalf("after drain, schedulable %v", got)
	}
	// Nothing is allocated on a drained node.
	if a := decodeBody[allocationBody](t, h.mustDo("POST", allocPath, `{}`, http.StatusCreated)); a.Node != "b" {
		t.Fatalf("allocated on %s", a.Node)
	}
	wantError(t, h.do("POST", allocPath, `{}`), http.StatusConflict, "no_capacity")
	rec = h.mustDo("POST", "/v1/cluster/nodes/a/uncordon", "", http.StatusOK)
	if v := decodeBody[struct{ Schedulable bool }](t, rec); !v.Schedulable {
		t.Fatal("uncordon answered not schedulable")
	}
	if got := nodes(); got["a"] != 1 {
		t.Fatalf("after uncordon, schedulable %v", got)
	}
	if a := decodeBody[allocationBody](t, h.mustDo("POST", allocPath, `{}`, http.StatusCreated)); a.ServerID != "gs-1" {
		t.Fatalf("after uncordon allocated %+v", a)
	}
	index := h.store.Applied().Index()
	wantError(t, h.do("POST", "/v1/cluster/nodes/zz/drain", ""), http.StatusNotFound, "not_found")
	wantError(t, h.do("POST", "/v1/cluster/nodes/zz/uncordon", ""), http.StatusNotFound, "not_found")
	if h.store.Applied().Index() != index {
		t.Fatal("a drain of an unknown node was written")
	}
	// Operators only.
	admin, _ := h.newKey("acme", identity.RoleTenantAdmin, "", 0)
	if rec := h.doAs(admin, "POST", "/v1/cluster/nodes/a/drain", ""); rec.Code != http.StatusForbidden {
		t.Fatalf("tenant admin drains: %d", rec.Code)
	}
}
