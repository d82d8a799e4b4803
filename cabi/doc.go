// Command cabi is libcassnet, the C ABI of CassandraNet for game servers
// (cabi/include/cassnet.h is its contract). `make cabi` builds it with
// -buildmode=c-shared and c-archive; main is empty.
//
// The library is a gRPC client of the local node's GameServerService
// (package gameserver). Each cn_init makes a client: one connection, one
// WatchEvents stream that feeds the in-process ban cache and the event
// callback, one Health stream, and one stream per subscription, each on
// a goroutine the client owns and cn_shutdown stops and waits for.
//
// Since ABI revision 3, cn_init fills the cn_config fields left NULL from
// the environment a node's supervisor gives a fleet server (env.go:
// CN_KEY, CN_SERVER_ID, CN_NODE, CN_PROJECT, CN_PORT_<NAME>; read with
// getenv at each call, so the C program's own setenv counts), and
// cn_port answers a reserved port without a handle.
//
// # Why there is package-level state
//
// C holds integers, never Go pointers (cgo forbids C keeping them), so
// handles are keys of a table that must outlive any one call: the
// package-level handles variable. It is the package's only global.
//
// # Invariants
//
//   - cn_is_banned reads an immutable map behind an atomic pointer,
//     replaced whole when the node pushes a new ban set: no lock, no
//     allocation, no network.
//   - Callbacks of one client run on its watch goroutine, one at a time
//     and in order, and subscription callbacks on that subscription's
//     goroutine (the OS thread under a goroutine may change).
//   - A handle leaves the table before its client stops, so calls racing
//     cn_shutdown fail with CN_ERR_UNKNOWN_HANDLE, never touch a closed
//     client's C memory.
package main

func main() {}
