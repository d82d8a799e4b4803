package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The command table: every noun and verb of the CLI, with its REST call,
// its flags, its example and the columns of its table.

type noun struct {
	name    string
	summary string
	verbs   []verb
}

type verb struct {
	name    string
	args    []string // positional arguments, all required
	summary string
	example string
	flags   []flagSpec
	method  string
	path    func(v *vals) string
	body    func(v *vals) (any, error) // nil: no body
	list    string                     // the key of the answer's array; "" when the answer is one object or an array
	cols    []col                      // nil: print done()
	done    func(v *vals) string
}

type flagSpec struct {
	name, usage string
	kind        byte // 's' string, 'b' bool, 'd' duration
	required    bool
	def         string
}

type col struct{ title, key string }

var tenantFlag = flagSpec{name: "tenant", usage: "the tenant (required)", kind: 's', required: true}

var projectFlag = flagSpec{name: "project", usage: "the project (required)", kind: 's', required: true}

func fleetsPath(v *vals) string {
	return "/v1/tenants/" + esc(v.s("tenant")) + "/projects/" + esc(v.s("project")) + "/fleets"
}

func esc(s string) string { return url.PathEscape(s) }

var nouns = []noun{
	{name: "tenants", summary: "tenants (studios); operators only", verbs: []verb{
		{name: "list", summary: "list the tenants", example: "cassnet tenants list",
			method: http.MethodGet, path: func(*vals) string { return "/v1/tenants" }, list: "tenants",
			cols: []col{{"NAME", "name"}, {"CREATED", "created_at"}, {"BY", "created_by"}}},
		{name: "create", args: []string{"NAME"}, summary: "create a tenant", example: "cassnet tenants create studio",
			method: http.MethodPost, path: func(*vals) string { return "/v1/tenants" },
			body: func(v *vals) (any, error) { return map[string]string{"name": v.arg(0)}, nil },
			cols: []col{{"NAME", "name"}, {"CREATED", "created_at"}}},
		{name: "delete", args: []string{"NAME"}, summary: "delete a tenant and everything in it", example: "cassnet tenants delete studio",
			method: http.MethodDelete, path: func(v *vals) string { return "/v1/tenants/" + esc(v.arg(0)) },
			done: func(v *vals) string { return "deleted tenant " + v.arg(0) }},
	}},
	{name: "projects", summary: "projects (game titles) of a tenant", verbs: []verb{
		{name: "list", summary: "list a tenant's projects", example: "cassnet projects list --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodGet,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/projects" }, list: "projects",
			cols: []col{{"NAME", "name"}, {"CREATED", "created_at"}, {"BY", "created_by"}}},
		{name: "create", args: []string{"NAME"}, summary: "create a project", example: "cassnet projects create rocket --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodPost,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/projects" },
			body: func(v *vals) (any, error) { return map[string]string{"name": v.arg(0)}, nil },
			cols: []col{{"TENANT", "tenant"}, {"NAME", "name"}, {"CREATED", "created_at"}}},
	}},
	{name: "bans", summary: "player bans", verbs: []verb{
		{name: "list", summary: "list a tenant's bans", example: "cassnet bans list --tenant studio --active --player p1",
			flags: []flagSpec{tenantFlag, {name: "player", usage: "only this player's bans", kind: 's'},
				{name: "active", usage: "only bans in force", kind: 'b'}},
			method: http.MethodGet, path: func(v *vals) string {
				q := url.Values{}
				if p := v.s("player"); p != "" {
					q.Set("player_id", p)
				}
				if v.b("active") {
					q.Set("active", "true")
				}
				return "/v1/tenants/" + esc(v.s("tenant")) + "/bans?" + q.Encode()
			}, list: "bans", cols: banCols},
		{name: "create", summary: "ban a player", example: "cassnet bans create --tenant studio --player p1 --reason cheating --duration 24h",
			flags: []flagSpec{tenantFlag, {name: "player", usage: "the player id (required)", kind: 's', required: true},
				{name: "reason", usage: "why (required)", kind: 's', required: true},
				{name: "duration", usage: "how long, e.g. 24h (0: permanent)", kind: 'd', def: "0s"},
				{name: "project", usage: "ban in one project only", kind: 's'}},
			method: http.MethodPost, path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/bans" },
			body: func(v *vals) (any, error) {
				b := map[string]any{"player_id": v.s("player"), "reason": v.s("reason")}
				if d := v.d("duration"); d > 0 {
					b["duration_seconds"] = int64(d.Seconds())
				}
				if p := v.s("project"); p != "" {
					b["project_id"] = p
				}
				return b, nil
			}, cols: banCols},
		{name: "revoke", args: []string{"BAN_ID"}, summary: "revoke a ban", example: "cassnet bans revoke ban_0123456789abcdef --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodDelete,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/bans/" + esc(v.arg(0)) }, cols: banCols},
		{name: "check", args: []string{"PLAYER"}, summary: "is a player banned? (the game servers' check)", example: "cassnet bans check p1 --tenant studio --project rocket",
			flags:  []flagSpec{tenantFlag, {name: "project", usage: "check in this project", kind: 's'}},
			method: http.MethodGet, path: func(v *vals) string {
				q := url.Values{}
				if p := v.s("project"); p != "" {
					q.Set("project_id", p)
				}
				return "/v1/tenants/" + esc(v.s("tenant")) + "/players/" + esc(v.arg(0)) + "/ban?" + q.Encode()
			}, cols: []col{{"BANNED", "banned"}, {"BAN", "ban.id"}, {"REASON", "ban.reason"}, {"EXPIRES", "ban.expires_at"}}},
	}},
	{name: "keys", summary: "tenant API keys", verbs: []verb{
		{name: "list", summary: "list a tenant's API keys", example: "cassnet keys list --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodGet,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/keys" }, list: "keys", cols: keyCols},
		{name: "create", summary: "create an API key (the secret is printed once)", example: "cassnet keys create --tenant studio --name eu-fleet --role game-server --ttl 720h",
			flags: []flagSpec{tenantFlag, {name: "name", usage: "a label (required)", kind: 's', required: true},
				{name: "role", usage: "tenant-admin, game-server or read-only (required)", kind: 's', required: true},
				{name: "project", usage: "scope the key to one project", kind: 's'},
				{name: "ttl", usage: "lifetime, e.g. 720h (0: never expires)", kind: 'd', def: "0s"}},
			method: http.MethodPost, path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/keys" },
			body: func(v *vals) (any, error) {
				b := map[string]any{"name": v.s("name"), "role": v.s("role")}
				if p := v.s("project"); p != "" {
					b["project_id"] = p
				}
				if d := v.d("ttl"); d > 0 {
					b["ttl_seconds"] = int64(d.Seconds())
				}
				return b, nil
			}, cols: append([]col{{"KEY (shown once)", "key"}}, keyCols...)},
		{name: "revoke", args: []string{"KEY_ID"}, summary: "revoke an API key", example: "cassnet keys revoke 0123456789abcdef --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodDelete,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/keys/" + esc(v.arg(0)) },
			done: func(v *vals) string { return "revoked key " + v.arg(0) }},
	}},
	{name: "operator-tokens", summary: "operator tokens; operators only", verbs: []verb{
		{name: "list", summary: "list operator tokens", example: "cassnet operator-tokens list",
			method: http.MethodGet, path: func(*vals) string { return "/v1/auth/operator-tokens" }, list: "tokens", cols: tokenCols},
		{name: "create", summary: "create an operator token (printed once)", example: "cassnet operator-tokens create --name oncall --ttl 720h",
			flags: []flagSpec{{name: "name", usage: "a label (required)", kind: 's', required: true},
				{name: "ttl", usage: "lifetime, e.g. 720h (0: never expires)", kind: 'd', def: "0s"}},
			method: http.MethodPost, path: func(*vals) string { return "/v1/auth/operator-tokens" },
			body: func(v *vals) (any, error) {
				b := map[string]any{"name": v.s("name")}
				if d := v.d("ttl"); d > 0 {
					b["ttl_seconds"] = int64(d.Seconds())
				}
				return b, nil
			}, cols: append([]col{{"TOKEN (shown once)", "token"}}, tokenCols...)},
		{name: "revoke", args: []string{"TOKEN_ID"}, summary: "revoke an operator token", example: "cassnet operator-tokens revoke 0123456789abcdef",
			method: http.MethodDelete, path: func(v *vals) string { return "/v1/auth/operator-tokens/" + esc(v.arg(0)) },
			done: func(v *vals) string { return "revoked operator token " + v.arg(0) }},
	}},
	{name: "servers", summary: "game servers registered on any node", verbs: []verb{
		{name: "list", summary: "list a tenant's game servers on every node", example: "cassnet servers list --tenant studio",
			flags:  []flagSpec{tenantFlag, {name: "local", usage: "only the servers on the node asked", kind: 'b'}},
			method: http.MethodGet, path: func(v *vals) string {
				p := "/v1/tenants/" + esc(v.s("tenant")) + "/servers"
				if v.b("local") {
					p += "?scope=local"
				}
				return p
			}, list: "servers", cols: serverCols},
		{name: "get", args: []string{"SERVER_ID"}, summary: "show one game server", example: "cassnet servers get gs-eu-1 --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodGet,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/servers/" + esc(v.arg(0)) }, cols: serverCols},
		{name: "drain", args: []string{"SERVER_ID"}, summary: "ask a game server to drain", example: "cassnet servers drain gs-eu-1 --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodPost,
			path: func(v *vals) string {
				return "/v1/tenants/" + esc(v.s("tenant")) + "/servers/" + esc(v.arg(0)) + "/drain"
			},
			body: func(*vals) (any, error) { return map[string]any{}, nil },
			done: func(v *vals) string { return "drain requested for " + v.arg(0) }},
		{name: "power", args: []string{"SERVER_ID", "ACTION"}, summary: "start, stop, restart or kill a fleet server's process (on any node)",
			example: "cassnet servers power ctf-0123456789ab restart --tenant studio",
			flags:   []flagSpec{tenantFlag}, method: http.MethodPost,
			path: func(v *vals) string {
				return "/v1/tenants/" + esc(v.s("tenant")) + "/servers/" + esc(v.arg(0)) + "/power"
			},
			body: func(v *vals) (any, error) { return map[string]string{"action": v.arg(1)}, nil },
			done: func(v *vals) string { return v.arg(1) + " done for " + v.arg(0) }},
		{name: "process", args: []string{"SERVER_ID"}, summary: "a fleet server's process: pid, state, restarts, CPU, memory (from any node)",
			example: "cassnet servers process ctf-0123456789ab --tenant studio",
			flags:   []flagSpec{tenantFlag}, method: http.MethodGet,
			path: func(v *vals) string {
				return "/v1/tenants/" + esc(v.s("tenant")) + "/servers/" + esc(v.arg(0)) + "/process"
			}, cols: []col{{"NODE", "node"}, {"PID", "pid"}, {"STATE", "state"}, {"RESTARTS", "restarts"}, {"CPU%", "cpu_percent"}, {"MEMORY", "memory_bytes"}, {"LIMITED", "limited"}}},
		{name: "logs", args: []string{"SERVER_ID"}, summary: "a fleet server's recent output (from any node)",
			example: "cassnet servers logs ctf-0123456789ab --tenant studio --lines 50",
			flags:   []flagSpec{tenantFlag, {name: "lines", usage: "how many lines (1-10000)", kind: 's', def: "200"}},
			method:  http.MethodGet, path: func(v *vals) string {
				return "/v1/tenants/" + esc(v.s("tenant")) + "/servers/" + esc(v.arg(0)) + "/logs?lines=" + url.QueryEscape(v.s("lines"))
			}, list: "lines", cols: []col{{"TIME", "time"}, {"STREAM", "stream"}, {"TEXT", "text"}}},
	}},
	{name: "fleets", summary: "fleets: game-server processes every node runs (operators and tenant-admins)", verbs: []verb{
		{name: "list", summary: "list a project's fleets", example: "cassnet fleets list --tenant studio --project arena",
			flags: []flagSpec{tenantFlag, projectFlag}, method: http.MethodGet,
			path: func(v *vals) string { return fleetsPath(v) }, list: "fleets", cols: fleetCols},
		{name: "get", args: []string{"FLEET"}, summary: "show a fleet's spec (env redacted) and status", example: "cassnet fleets get ctf --tenant studio --project arena",
			flags: []flagSpec{tenantFlag, projectFlag}, method: http.MethodGet,
			path: func(v *vals) string { return fleetsPath(v) + "/" + esc(v.arg(0)) }, cols: fleetCols},
		{name: "apply", args: []string{"FLEET"}, summary: "create or replace a fleet from a JSON spec file (docs/fleets.md)",
			example: "cassnet fleets apply ctf --tenant studio --project arena --file ctf.json",
			flags:   []flagSpec{tenantFlag, projectFlag, {name: "file", usage: "the spec, JSON (required)", kind: 's', required: true}},
			method:  http.MethodPut, path: func(v *vals) string { return fleetsPath(v) + "/" + esc(v.arg(0)) },
			body: func(v *vals) (any, error) {
				b, err := os.ReadFile(v.s("file"))
				if err != nil {
					return nil, err
				}
				if !json.Valid(b) {
					return nil, fmt.Errorf("%s: not JSON", v.s("file"))
				}
				return json.RawMessage(b), nil
			}, cols: fleetCols},
		{name: "delete", args: []string{"FLEET"}, summary: "delete a fleet: every node stops its processes", example: "cassnet fleets delete ctf --tenant studio --project arena",
			flags: []flagSpec{tenantFlag, projectFlag}, method: http.MethodDelete,
			path: func(v *vals) string { return fleetsPath(v) + "/" + esc(v.arg(0)) },
			done: func(v *vals) string { return "deleted fleet " + v.arg(0) }},
	}},
	{name: "allocations", summary: "hand out game servers for matches (matchmaker or tenant-admin keys)", verbs: []verb{
		{name: "create", summary: "allocate a ready server whose labels match", example: "cassnet allocations create --tenant studio --project arena --labels mode=ctf --idempotency-key m-42",
			flags: []flagSpec{tenantFlag, {name: "project", usage: "the project", kind: 's'},
				{name: "fleet", usage: "only this fleet", kind: 's'},
				{name: "labels", usage: "labels the server must carry, k=v,k2=v2", kind: 's'},
				{name: "strategy", usage: "packed or distributed", kind: 's'},
				{name: "idempotency-key", usage: "a retry with the same key answers the first allocation", kind: 's'}},
			method: http.MethodPost, path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/allocations" },
			body: func(v *vals) (any, error) {
				labels, err := parseLabels(v.s("labels"))
				if err != nil {
					return nil, err
				}
				return map[string]any{"project_id": v.s("project"), "fleet": v.s("fleet"), "strategy": v.s("strategy"),
					"idempotency_key": v.s("idempotency-key"), "selectors": []map[string]any{{"labels": labels}}}, nil
			},
			cols: allocCols},
		{name: "get", args: []string{"ALLOCATION_ID"}, summary: "show one allocation", example: "cassnet allocations get alloc_0123456789abcdef --tenant studio",
			flags: []flagSpec{tenantFlag}, method: http.MethodGet,
			path: func(v *vals) string { return "/v1/tenants/" + esc(v.s("tenant")) + "/allocations/" + esc(v.arg(0)) }, cols: allocCols},
		{name: "list", summary: "list the allocations of the last 24 h, newest first", example: "cassnet allocations list --tenant studio --project arena",
			flags: []flagSpec{tenantFlag, {name: "project", usage: "only this project", kind: 's'}}, method: http.MethodGet,
			path: func(v *vals) string {
				p := "/v1/tenants/" + esc(v.s("tenant")) + "/allocations"
				if pr := v.s("project"); pr != "" {
					p += "?project_id=" + url.QueryEscape(pr)
				}
				return p
			}, list: "allocations", cols: allocCols},
	}},
	{name: "ugc", summary: "user-generated content of a project: find, inspect, moderate (docs/ugc.md)", verbs: []verb{
		{name: "list", summary: "search the items: every tag and every word must match", example: "cassnet ugc list --tenant studio --project arena --tag map --q castle --sort downloads",
			flags: append(ugcFlags, flagSpec{name: "tag", usage: "a tag the items carry", kind: 's'},
				flagSpec{name: "q", usage: "words of the title, tags or description", kind: 's'},
				flagSpec{name: "owner", usage: "a player id, or studio", kind: 's'},
				flagSpec{name: "state", usage: "draft, pending, approved, rejected or hidden", kind: 's'},
				flagSpec{name: "sort", usage: "recent or downloads", kind: 's'},
				flagSpec{name: "cursor", usage: "the next_cursor of the previous page", kind: 's'}),
			method: http.MethodGet, path: func(v *vals) string {
				q := url.Values{}
				for _, k := range []string{"tag", "q", "owner", "state", "sort", "cursor"} {
					if x := v.s(k); x != "" {
						q.Set(k, x)
					}
				}
				p := ugcPath(v) + "/items"
				if len(q) > 0 {
					p += "?" + q.Encode()
				}
				return p
			}, list: "items", cols: ugcCols},
		{name: "get", args: []string{"ITEM"}, summary: "show one item", example: "cassnet ugc get itm_0123456789abcdef --tenant studio --project arena",
			flags: ugcFlags, method: http.MethodGet, path: func(v *vals) string { return ugcPath(v) + "/items/" + esc(v.arg(0)) }, cols: ugcCols},
		{name: "versions", args: []string{"ITEM"}, summary: "list an item's versions, newest first", example: "cassnet ugc versions itm_0123456789abcdef --tenant studio --project arena",
			flags: ugcFlags, method: http.MethodGet, path: func(v *vals) string { return ugcPath(v) + "/items/" + esc(v.arg(0)) + "/versions" },
			list: "versions", cols: []col{{"VERSION", "id"}, {"STATE", "state"}, {"FILE", "filename"}, {"SIZE", "size"}, {"SHA256", "sha256"}, {"HOLDER", "holder"}, {"REASON", "reason"}}},
		{name: "moderate", args: []string{"ITEM", "ACTION"}, summary: "approve, reject or hide an item (tenant-admin)", example: "cassnet ugc moderate itm_0123456789abcdef hide --reason dmca --tenant studio --project arena",
			flags: append(ugcFlags, flagSpec{name: "reason", usage: "shown to the owner", kind: 's'}), method: http.MethodPost,
			path: func(v *vals) string { return ugcPath(v) + "/items/" + esc(v.arg(0)) + "/moderation" },
			body: func(v *vals) (any, error) { return map[string]string{"action": v.arg(1), "reason": v.s("reason")}, nil },
			cols: ugcCols},
		{name: "delete", args: []string{"ITEM"}, summary: "delete an item and its versions", example: "cassnet ugc delete itm_0123456789abcdef --tenant studio --project arena",
			flags: ugcFlags, method: http.MethodDelete, path: func(v *vals) string { return ugcPath(v) + "/items/" + esc(v.arg(0)) },
			done: func(v *vals) string { return "deleted item " + v.arg(0) }},
		{name: "settings", summary: "show the project's UGC settings and quotas", example: "cassnet ugc settings --tenant studio --project arena",
			flags: ugcFlags, method: http.MethodGet, path: func(v *vals) string { return ugcPath(v) + "/settings" },
			cols: []col{{"STORE", "store"}, {"MAX FILE", "max_file_size"}, {"TOTAL", "max_total_bytes"}, {"PER PLAYER", "max_bytes_per_player"}, {"ITEMS/PLAYER", "max_items_per_player"}, {"VERSIONS", "versions_per_item"}, {"MODERATION", "moderation"}}},
	}},
	{name: "nodes", summary: "nodes with their load, drain state and game servers; operators only", verbs: []verb{
		{name: "list", summary: "list the nodes", example: "cassnet nodes list",
			method: http.MethodGet, path: func(*vals) string { return "/v1/cluster/nodes" }, list: "nodes", cols: nodeCols},
		{name: "drain", args: []string{"NODE"}, summary: "no new allocations or servers on a node; its servers are asked to drain", example: "cassnet nodes drain eu-1 (or: cassnet drain eu-1)",
			method: http.MethodPost, path: func(v *vals) string { return "/v1/cluster/nodes/" + esc(v.arg(0)) + "/drain" }, cols: nodeCols},
		{name: "uncordon", args: []string{"NODE"}, summary: "make a drained node schedulable again", example: "cassnet nodes uncordon eu-1",
			method: http.MethodPost, path: func(v *vals) string { return "/v1/cluster/nodes/" + esc(v.arg(0)) + "/uncordon" }, cols: nodeCols},
	}},
	{name: "members", summary: "mesh members as one node sees them; operators only", verbs: []verb{
		{name: "list", summary: "list the members with their Raft roles", example: "cassnet members list --http-addr 127.0.0.2:8080",
			method: http.MethodGet, path: func(*vals) string { return "/v1/members" }, list: "members",
			cols: []col{{"NAME", "name"}, {"STATUS", "status"}, {"RAFT", "raft_role"}, {"VERSION", "version"}, {"REST", "addresses.http"}, {"ID", "id"}}},
	}},
}

var ugcFlags = []flagSpec{tenantFlag, {name: "project", usage: "the project (required)", kind: 's', required: true}}

func ugcPath(v *vals) string {
	return "/v1/tenants/" + esc(v.s("tenant")) + "/projects/" + esc(v.s("project")) + "/ugc"
}

var (
	ugcCols    = []col{{"ITEM", "id"}, {"TITLE", "title"}, {"OWNER", "owner"}, {"STATE", "state"}, {"VISIBILITY", "visibility"}, {"TAGS", "tags"}, {"DOWNLOADS", "downloads"}, {"REPORTS", "reports"}}
	banCols    = []col{{"ID", "id"}, {"PLAYER", "player_id"}, {"PROJECT", "project_id"}, {"REASON", "reason"}, {"EXPIRES", "expires_at"}, {"REVOKED", "revoked_at"}, {"BY", "created_by"}}
	keyCols    = []col{{"ID", "id"}, {"NAME", "name"}, {"ROLE", "role"}, {"PROJECT", "project_id"}, {"EXPIRES", "expires_at"}, {"LAST USED", "last_used_at"}}
	tokenCols  = []col{{"ID", "id"}, {"NAME", "name"}, {"CREATED", "created_at"}, {"EXPIRES", "expires_at"}}
	allocCols  = []col{{"ALLOCATION", "allocation_id"}, {"SERVER", "server_id"}, {"NODE", "node"}, {"ADDRESS", "address"}, {"PORTS", "ports"}, {"CREATED", "created_at"}}
	nodeCols   = []col{{"NAME", "name"}, {"STATUS", "status"}, {"RAFT", "raft_role"}, {"SCHEDULABLE", "schedulable"}, {"CPU%", "load.cpu_percent"}, {"MEM%", "load.memory_percent"}, {"SERVERS", "servers"}, {"PLAYERS", "players"}}
	fleetCols  = []col{{"NAME", "name"}, {"SERVERS", "status.servers"}, {"WANT", "status.want"}, {"BY STATE", "status.by_state"}, {"ERRORS", "status.errors"}, {"UPDATED", "updated_at"}}
	serverCols = []col{{"ID", "id"}, {"STATE", "state"}, {"HEALTHY", "healthy"}, {"PLAYERS", "player_count"}, {"CAPACITY", "capacity"}, {"NODE", "node"}, {"ADDRESS", "address"}, {"LABELS", "labels"}}
)

// itoa is strconv.Itoa, for the table code.
var itoa = strconv.Itoa

// parseLabels reads "k=v,k2=v2" (empty: no labels).
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels: %q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}
