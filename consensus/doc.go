// Package consensus owns the replicated state: the Raft log (hashicorp/raft
// stored in raft-boltdb), the state machine it drives (FSM and State), its
// snapshots, the internal RPC that forwards writes and read-index requests
// to the leader, and autopilot, which turns gossip membership into Raft
// membership.
//
// It must not touch HTTP, authentication or gossip itself: the API hands it
// typed commands (proto/cassandranet/v1.Command) and reads State; the mesh
// package tells it who the members are through MemberSource, and
// consensus keeps no membership list of its own.
//
// Invariants:
//   - Apply is deterministic: every input, including time, comes from the
//     command, and the leader stamps the time before proposing.
//   - A rejected command changes nothing but the applied index.
//   - An acknowledged write has been applied on the leader, so the
//     leader's state index is a valid read index (see read.go).
//   - Autopilot never makes a change that leaves the healthy voters short
//     of a quorum.
//   - Identity state (API keys, operator tokens, signing keys, session
//     revocations) stores only hashes of credential secrets, and is pruned
//     inside Apply using the command's leader time: expired keys and
//     tokens, revocations whose tokens have expired, and retired signing
//     keys once their last token has expired (see prune.go).
//
// See DESIGN.md beside this file for the reasoning.
package consensus
