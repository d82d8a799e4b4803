// Package consensus is the engine of the replicated state: the Raft log
// (hashicorp/raft stored in raft-boltdb, or in raft-wal when a data dir
// is created with it; see logstore.go), the FSM that routes each
// committed command to the domain module that owns it, the snapshot
// container, the command envelope, the internal RPC that forwards writes
// and read-index requests to the leader, read consistency, the leadership
// barrier, and autopilot, which turns gossip membership into Raft
// membership.
//
// It knows no domain. Tenants, bans, keys and every later domain live in
// their own packages (see package state) and plug in through Module
// (module.go): each registers its command handlers with the Router, stages
// its changes in a Tx, and writes and restores its own snapshot section.
// consensus must not touch HTTP, authentication or gossip itself: the API
// hands it typed commands (proto/cassandranet/v1.Command); the mesh
// package tells it who the members are through MemberSource, and
// consensus keeps no membership list of its own.
//
// Invariants:
//   - Apply is deterministic: every input, including time, comes from the
//     command, and the leader stamps the time before proposing.
//   - A rejected command changes nothing but the applied index: staged
//     changes are committed only when the whole entry succeeded.
//   - Readers never block Apply: modules publish immutable versions.
//   - An acknowledged write has been applied on the leader, so the
//     leader's applied index is a valid read index (see read.go).
//   - Autopilot never makes a change that leaves the healthy voters short
//     of a quorum.
//
// See DESIGN.md beside this file for the reasoning.
package consensus
