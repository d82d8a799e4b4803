// Package mesh is CassandraNet's gossip membership, built on
// hashicorp/memberlist.
//
// # What it owns
//
//   - Who is in the cluster and how to reach them: every node gossips a
//     small Meta (name, ID, role, version, and the addresses of its Raft,
//     HTTP, libp2p and gRPC endpoints). Members lists every node this one
//     knows with a Status, and Changes signals when that list changes.
//   - Gossip encryption: all gossip (UDP and TCP) is AES-GCM under a
//     keyring (Config.Keys, as the join handshake delivered it; or a key
//     derived from JoinToken when Keys is empty, GossipKey), and
//     unencrypted traffic is refused both ways. SetKeys rotates the
//     keyring at run time. A node without a key cannot join or read.
//   - The join stream: a TCP stream on the gossip port opening with
//     JoinStreamByte goes to Config.JoinHandler instead of memberlist,
//     so a node with no gossip key yet can reach a seed (jointransport.go).
//   - Getting back together: the start-up join retries Seeds and the
//     persisted peers (PeersFile) with backoff, and a reconnect loop (the
//     serf model) keeps dialling failed members, because memberlist alone
//     never merges the two sides of a partition that outlasted
//     GossipToTheDeadTime.
//
// # What it must not touch
//
//   - Raft membership. mesh only reports; consensus decides from Members
//     who is added to or removed from Raft, and neither keeps a second list.
//   - HTTP, or any other API. mesh speaks only memberlist's protocol.
//
// # Status
//
// memberlist v0.6.0 does not expose a member's state (Node.State is never
// filled in, hashicorp/memberlist#266) and reports a failure and a
// graceful leave with the same NotifyLeave, so mesh rebuilds the status:
//
//   - StatusAlive: memberlist's StateAlive (NotifyJoin/NotifyUpdate). A
//     left or failed member that comes back is alive again.
//   - StatusSuspect: memberlist's StateSuspect as far as this node can
//     see it: its own probe of the member failed. It ends when the member
//     answers a probe, is marked failed, or memberlist's suspicion would
//     have expired. Suspicion raised by other nodes is not visible.
//   - StatusFailed: StateDead, i.e. NotifyLeave without a leave intent.
//   - StatusLeft: StateLeft. Leave gossips a leave intent before
//     memberlist's own leave; a NotifyLeave for a member whose intent
//     arrived (before or after) is a leave.
//
// Failed and left members stay in Members, with their last Meta, for
// ReconnectTimeout. With DefaultTiming a crashed node in a 3-node cluster
// is marked failed by the others in about 6 s (measured median 5.8 s,
// range 4.1–8.0 s; see DefaultTiming).
//
// # Invariants
//
//   - memberlist calls mesh's delegates from its own goroutines, some
//     while holding its node lock; they never block and never call back
//     into memberlist, and mesh never calls memberlist while holding its
//     own roster lock.
//   - Every goroutine is started by Start (or by Leave and UpdateMeta for
//     one bounded call) and is stopped and waited for by Shutdown.
//   - No global state: the token, key and logger live in the Mesh. The
//     join token and the key are never logged (Config.LogValue omits them).
package mesh
