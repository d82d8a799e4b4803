// Command panic is a test plugin whose hook panics, and whose RPC "bad"
// answers something that is not JSON-able by the host's rules.
package main

import "github.com/cassandranet/cassnet/pluginsdk"

func init() {
	pluginsdk.Manifest("panic", "1")
	pluginsdk.Handle("before_ban_create", func(pluginsdk.Call) pluginsdk.Result { panic("boom") })
	pluginsdk.Handle("before_session_create", func(pluginsdk.Call) pluginsdk.Result {
		return pluginsdk.Result{Action: "reject", Status: 302, Message: "redirect me"}
	})
}

func main() {}
