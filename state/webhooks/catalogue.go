package webhooks

import (
	"slices"
	"strings"
)

// The catalogue: every webhook event type, and the event Actions of the
// other modules that produce it. It is the one table docs/webhooks.md
// documents. A later domain whose events should be deliverable adds its
// rows here; an Action not listed is never delivered.
var catalogue = []struct {
	Type    string
	Actions []string
	About   string
}{
	{"ban.created", []string{"ban.create", "ban.created"}, "a ban was created (state/bans)"},
	{"ban.revoked", []string{"ban.revoke", "ban.revoked"}, "a ban was revoked (state/bans)"},
	{"session.revoked", []string{"session.revoke", "player_sessions.revoke", "session.revoked"}, "a player session, or every session of a player, was revoked (state/identity)"},
	{"server.state_changed", []string{"server.state_changed"}, "a game server changed state (state/servers)"},
	{"allocation.created", []string{"allocation.created"}, "a game server was allocated to a match (state/servers)"},
	{"ugc.version.published", []string{"ugc.version.published"}, "a UGC item version was published"},
	{"ugc.reported", []string{"ugc.reported"}, "a UGC item was reported"},
	{"plugin.failed", []string{"plugin.failed"}, "a Wasm plugin call failed"},
	{"webhook.disabled", []string{"webhook.disabled"}, "a webhook was disabled after repeated failures (this module)"},
	{"fleet.created", []string{"fleet.created"}, "a fleet was created"},
	{"fleet.updated", []string{"fleet.updated"}, "a fleet was updated"},
	{"fleet.deleted", []string{"fleet.deleted"}, "a fleet was deleted"},
}

var actionTypes = func() map[string]string {
	m := map[string]string{}
	for _, c := range catalogue {
		for _, a := range c.Actions {
			m[a] = c.Type
		}
	}
	return m
}()

// TypeOf returns the webhook event type of an event Action, if any.
func TypeOf(action string) (string, bool) {
	t, ok := actionTypes[action]
	return t, ok
}

// Types returns every event type of the catalogue, in catalogue order.
func Types() []string {
	out := make([]string, len(catalogue))
	for i, c := range catalogue {
		out[i] = c.Type
	}
	return out
}

// KnownType reports whether t is a catalogue type.
func KnownType(t string) bool {
	return slices.ContainsFunc(catalogue, func(c struct {
		Type    string
		Actions []string
		About   string
	}) bool {
		return c.Type == t
	})
}

// CatalogueMarkdown renders the catalogue as a Markdown table (for
// docs/webhooks.md, checked by a test).
func CatalogueMarkdown() string {
	var b strings.Builder
	b.WriteString("| type | produced by the Actions | what happened |\n|---|---|---|\n")
	for _, c := range catalogue {
		b.WriteString("| `" + c.Type + "` | `" + strings.Join(c.Actions, "`, `") + "` | " + c.About + " |\n")
	}
	return b.String()
}
