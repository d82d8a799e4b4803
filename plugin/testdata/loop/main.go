// Command loop is a hostile test plugin: its before_ban_create never returns.
package main

import "github.com/cassandranet/cassnet/pluginsdk"

var sink int

func init() {
	pluginsdk.Manifest("loop", "1")
	pluginsdk.Handle("before_ban_create", func(pluginsdk.Call) pluginsdk.Result {
		for i := 0; ; i++ {
			sink = i
		}
	})
}

func main() {}
