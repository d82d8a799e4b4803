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

// MinReason is the shortest reason accepted, in characters.
const MinReason = 8

func init() {
	pluginsdk.Manifest("ban-policy", "1.0.0")
	pluginsdk.Handle("before_ban_create", check)
}

// check reads the three fields it needs with the SDK's scanner rather
// than encoding/json, which costs about 100 µs a call inside wasm; only
// the rare amendment decodes and re-encodes the whole request.
func check(c pluginsdk.Call) pluginsdk.Result {
	var reason string
	if v, has := c.Field("reason"); has {
		var ok bool
		if reason, ok = pluginsdk.Str(v); !ok {
			return pluginsdk.Reject(400, "ban-policy: unreadable request")
		}
	}
	if utf8.RuneCountInString(reason) < MinReason {
		return pluginsdk.Reject(422, fmt.Sprintf("ban-policy: a ban needs a reason of at least %d characters", MinReason))
	}
	project, _ := c.String("project_id")
	limit, ok := configInt(c.Config, "max_seconds")
	if !ok {
		return pluginsdk.Reject(400, "ban-policy: bad config")
	}
	if projects, has := pluginsdk.Get(c.Config, "projects"); has && project != "" {
		if v, has := pluginsdk.Get(projects, project); has {
			if limit, ok = pluginsdk.Int(v); !ok {
				return pluginsdk.Reject(400, "ban-policy: bad config")
			}
		}
	}
	if limit <= 0 {
		return pluginsdk.Allow()
	}
	d, hasDuration := c.Int("duration_seconds")
	if hasDuration && d > 0 && d <= limit {
		return pluginsdk.Allow()
	}
	overCap, _ := configString(c.Config, "over_cap")
	if overCap == "reject" {
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

// configInt reads an integer setting; absent is 0.
func configInt(cfg []byte, key string) (int64, bool) {
	v, ok := pluginsdk.Get(cfg, key)
	if !ok {
		return 0, true
	}
	return pluginsdk.Int(v)
}

func configString(cfg []byte, key string) (string, bool) {
	v, ok := pluginsdk.Get(cfg, key)
	if !ok {
		return "", true
	}
	return pluginsdk.Str(v)
}

func main() {}
