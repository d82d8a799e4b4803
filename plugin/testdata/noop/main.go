// Command noop is a test plugin whose before_ban_create allows at once:
// the floor of a hook call's cost, for the benchmark.
package main

import "github.com/cassandranet/cassnet/pluginsdk"

func init() {
	pluginsdk.Manifest("noop", "1")
	pluginsdk.Handle("before_ban_create", func(pluginsdk.Call) pluginsdk.Result { return pluginsdk.Allow() })
}

func main() {}
