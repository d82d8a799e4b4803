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

type config struct {
	MaxSeconds int64            `json:"max_seconds"`
	Projects   map[string]int64 `json:"projects"`
	OverCap    string           `json:"over_cap"`
}

// MinReason is the shortest reason accepted, in characters.
const MinReason = 8

func init() {
	pluginsdk.Manifest("ban-policy", "1.0.0")
	pluginsdk.Handle("before_ban_create", check)
}

func check(c pluginsdk.Call) pluginsdk.Result {
	var req banRequest
	if err := c.Decode(&req); err != nil {
		return pluginsdk.Reject(400, "ban-policy: unreadable request")
	}
	if utf8.RuneCountInString(req.Reason) < MinReason {
		return pluginsdk.Reject(422, fmt.Sprintf("ban-policy: a ban needs a reason of at least %d characters", MinReason))
	}
	var cfg config
	if err := c.DecodeConfig(&cfg); err != nil {
		return pluginsdk.Reject(400, "ban-policy: bad config")
	}
	limit := cfg.MaxSeconds
	if v, ok := cfg.Projects[req.ProjectID]; ok && req.ProjectID != "" {
		limit = v
	}
	if limit <= 0 {
		return pluginsdk.Allow()
	}
	if req.DurationSeconds != nil && *req.DurationSeconds > 0 && *req.DurationSeconds <= limit {
		return pluginsdk.Allow()
	}
	if cfg.OverCap == "reject" {
		return pluginsdk.Reject(422, fmt.Sprintf("ban-policy: bans in this project last at most %d seconds", limit))
	}
	pluginsdk.Logf(pluginsdk.LevelInfo, "capping a ban of %s to %d s", req.PlayerID, limit)
	req.DurationSeconds = &limit
	return pluginsdk.Amend(req)
}

func main() {}
