// Package testnet starts real cassnet agent processes, drives them and
// breaks them on purpose. Integration tests, `cassnet bench`, `cassnet
// testnet` and the chaos harness all use it.
//
// It owns processes, their data dirs and ports, their network (a network
// namespace per node when it runs as root, see Netns), and an HTTP client
// for the REST API. It must not import the node, consensus or mesh
// packages: it sees a cluster only the way an operator does, through
// processes, the network and HTTP.
//
// The chaos harness (Run) is built from small seams:
//   - Fault: one kind of failure (kill, pause, stop, leave, partitions, loss,
//     netem); the Nemesis schedules them from a seed and records Windows.
//   - Generator: one kind of workload (BanWorkload, SessionWorkload,
//     PubSubWorkload with its SSE subscribers), recording Entries into a
//     History.
//   - Checker: one property judged after the heal (linearizability with
//     porcupine, lost writes, convergence, sessions, messaging, logs).
//
// docs/testnet.md explains how to run it and how to read a report.
package testnet
