// Command hog is a hostile test plugin: its before_ban_create allocates
// without bound.
package main

import "github.com/cassandranet/cassnet/pluginsdk"

var keep [][]byte

func init() {
	pluginsdk.Manifest("hog", "1")
	pluginsdk.Handle("before_ban_create", func(pluginsdk.Call) pluginsdk.Result {
		for {
			b := make([]byte, 1<<20)
			b[0] = 1
			keep = append(keep, b)
		}
	})
}

func main() {}
