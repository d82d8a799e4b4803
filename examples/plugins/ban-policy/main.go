// Command ban-policy is an example CassandraNet plugin (a Wasm module,
// built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared). Its
// before_ban_create hook rejects a ban whose reason is shorter than 8
// characters, and caps how long a ban may be, per project, from its
// config:
//
//	{"max_seconds": 86400, "projects": {"rocket": 3600}, "over_cap": "amend"}
//
// A ban longer than the cap (a permanent ban counts as longer than any
// cap) is shortened to the cap when over_cap is "amend" (the default), or
// rejected with 422 when it is "reject".
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/cassandranet/cassnet/pluginsdk"
)

// banRequest is the body of POST /v1/tenants/{tenant}/bans.
type banRequest struct {
	PlayerID        string `json:"player_id"`
	Reason          string `json:"reason"`
	DurationSeconds *int64 `json:"duration_seconds,omitempty"`
	ProjectID       string `json:"project_id,omitempty"`
}

// MinReason is the shortest reason accepted, in characters.
const MinReason = 8

func init() {
	pluginsdk.Manifest("ban-policy", "1.0.0")
	pluginsdk.Handle("before_ban_create", check)
}

// policy is the config, parsed.
type policy struct {
	maxSeconds int64
	projects   map[string]int64
	overCap    string
}

// cached is the last config parsed, keyed by its bytes: the config
// changes rarely, so most calls skip parsing it. (An instance may be
// replaced at any time; the cache only saves work, nothing relies on it.)
var cached struct {
	raw []byte
	p   policy
	ok  bool
}

var (
	fields = []string{"reason", "project_id", "duration_seconds"}
	vals   = make([][]byte, len(fields))
)

// check reads the three fields it needs in one pass with the SDK's
// scanner rather than encoding/json, which costs about 100 µs a call
// inside wasm; only the rare amendment decodes and re-encodes the whole
// request.
func check(c pluginsdk.Call) pluginsdk.Result {
	if !pluginsdk.Lookup(c.Request, fields, vals) {
		return pluginsdk.Reject(400, "ban-policy: unreadable request")
	}
	var reason, project string
	var ok bool
	if vals[0] != nil {
		if reason, ok = pluginsdk.Str(vals[0]); !ok {
			return pluginsdk.Reject(400, "ban-policy: unreadable request")
		}
	}
	if utf8.RuneCountInString(reason) < MinReason {
		return pluginsdk.Reject(422, fmt.Sprintf("ban-policy: a ban needs a reason of at least %d characters", MinReason))
	}
	if vals[1] != nil {
		project, _ = pluginsdk.Str(vals[1])
	}
	d, hasDuration := pluginsdk.Int(vals[2])
	pol, ok := config(c.Config)
	if !ok {
		return pluginsdk.Reject(400, "ban-policy: bad config")
	}
	limit := pol.maxSeconds
	if v, has := pol.projects[project]; has && project != "" {
		limit = v
	}
	if limit <= 0 {
		return pluginsdk.Allow()
	}
	if hasDuration && d > 0 && d <= limit {
		return pluginsdk.Allow()
	}
	if pol.overCap == "reject" {
		return pluginsdk.Reject(422, fmt.Sprintf("ban-policy: bans in this project last at most %d seconds", limit))
	}
	var req banRequest
	if err := c.Decode(&req); err != nil {
		return pluginsdk.Reject(400, "ban-policy: unreadable request")
	}
	pluginsdk.Logf(pluginsdk.LevelInfo, "capping a ban of %s to %d s", req.PlayerID, limit)
	req.DurationSeconds = &limit
	return pluginsdk.Amend(req)
}

// config parses the config, or answers the cached parse of the same
// bytes.
func config(raw []byte) (policy, bool) {
	if cached.raw != nil && bytes.Equal(raw, cached.raw) {
		return cached.p, cached.ok
	}
	var cfg struct {
		MaxSeconds int64            `json:"max_seconds"`
		Projects   map[string]int64 `json:"projects"`
		OverCap    string           `json:"over_cap"`
	}
	ok := len(raw) == 0 || json.Unmarshal(raw, &cfg) == nil
	cached.raw = append(cached.raw[:0], raw...)
	cached.p, cached.ok = policy{cfg.MaxSeconds, cfg.Projects, cfg.OverCap}, ok
	return cached.p, ok
}

func main() {}
