// Package plugintest proves the Wasm plugins end to end, with real
// `cassnet agent` processes: a plugin uploaded on one node rejects a
// request taken by another, an RPC answers, a plugin is replaced under
// load without a failed request, and hostile plugins (an endless loop,
// unbounded allocation) are stopped while the node goes on serving.
// It has only tests.
package plugintest
