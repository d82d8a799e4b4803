// Command swap is a test plugin whose before_ban_create amends the
// reason to "<version>: <reason>"; the version is set at build time
// (-ldflags -X main.version=v2), so one source gives two modules.
package main

import "github.com/cassandranet/cassnet/pluginsdk"

var version = "v1"

func init() {
	pluginsdk.Manifest("swap", version)
	pluginsdk.Handle("before_ban_create", func(c pluginsdk.Call) pluginsdk.Result {
		var req map[string]any
		if err := c.Decode(&req); err != nil {
			return pluginsdk.Reject(400, "bad request")
		}
		req["reason"] = version + ": " + req["reason"].(string)
		return pluginsdk.Amend(req)
	})
}

func main() {}
