// Package node composes a running CassandraNet agent: it loads and
// remembers the node's identity and configuration in its data dir, creates
// the bootstrap tokens, and starts and stops the mesh, consensus and API
// packages in the right order.
//
// It owns lifecycle only. It holds no cluster state of its own and nothing
// below it imports it.
package node
