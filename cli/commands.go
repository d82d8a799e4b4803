package cli

import (
	"net/http"
	"net/url"
	"strconv"
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
	}},
	{name: "members", summary: "mesh members as one node sees them; operators only", verbs: []verb{
		{name: "list", summary: "list the members with their Raft roles", example: "cassnet members list --http-addr 127.0.0.2:8080",
			method: http.MethodGet, path: func(*vals) string { return "/v1/members" }, list: "members",
			cols: []col{{"NAME", "name"}, {"STATUS", "status"}, {"RAFT", "raft_role"}, {"VERSION", "version"}, {"REST", "addresses.http"}, {"ID", "id"}}},
	}},
}

var (
	banCols    = []col{{"ID", "id"}, {"PLAYER", "player_id"}, {"PROJECT", "project_id"}, {"REASON", "reason"}, {"EXPIRES", "expires_at"}, {"REVOKED", "revoked_at"}, {"BY", "created_by"}}
	keyCols    = []col{{"ID", "id"}, {"NAME", "name"}, {"ROLE", "role"}, {"PROJECT", "project_id"}, {"EXPIRES", "expires_at"}, {"LAST USED", "last_used_at"}}
	tokenCols  = []col{{"ID", "id"}, {"NAME", "name"}, {"CREATED", "created_at"}, {"EXPIRES", "expires_at"}}
	serverCols = []col{{"ID", "id"}, {"STATE", "state"}, {"HEALTHY", "healthy"}, {"PLAYERS", "player_count"}, {"CAPACITY", "capacity"}, {"NODE", "node"}, {"ADDRESS", "address"}, {"LABELS", "labels"}}
)

// itoa is strconv.Itoa, for the table code.
var itoa = strconv.Itoa
