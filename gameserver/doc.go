// Package gameserver is the local game-server API: the gRPC service
// GameServerService (proto/cassandranet/v1/gameserver.proto) that a game
// server, usually through the C library in cabi/, calls on the node of its
// own VM. The node serves it on the game-server gRPC port, on loopback
// unless told otherwise.
//
// # What it owns
//
// The registry of the game servers registered on this node (health,
// connected players, reported metrics) and keeping their replicated
// lifecycle records (state/servers) in step with it: proposing
// registrations, state changes, labels and coalesced player counts, and,
// on the leader, marking the servers of failed nodes. It borrows
// everything else. Authentication, tenant isolation and session
// verification are the REST API's own code (api.Server.Authenticate,
// api.Principal.CanSee, api.Server.VerifySession), so there is one
// authorisation layer and VerifySession answers exactly as REST does.
// Publish and Subscribe are thin adapters over api.Topics, the same
// subscription core the REST SSE route adapts. Bans and revocations are
// read from this node's replica of the Raft state.
//
// # What is replicated, and what stays here
//
// A server's identity and lifecycle are replicated through Raft (the
// servers domain, state/servers), so that any node can allocate it with a
// compare-and-set: Register proposes RegisterServer (node = this node);
// Ready, SetState, Reserve and Allocate propose SetServerState (shutdown
// removes the record); SetLabel proposes SetServerLabels. Health pings,
// metrics, sessions and the connected-player list stay in this node's
// memory: they change every second and are worthless once the node is
// gone. Three loops keep the record in step (replicate.go):
//
//   - health: three intervals without a ping propose unhealthy; the next
//     ping restores the state the server had (an allocated one comes back
//     as draining: its allocation ended in the record, and handing it out
//     again mid-match would be wrong; Ready returns it to the pool);
//   - flush: once a second, one UpdateServerPlayers carries every player
//     count that changed. The count selectors use (min_free_players) is
//     therefore at most about FlushInterval plus one commit and apply
//     (~1.1 s on a healthy cluster) behind the node's own count; while
//     no leader is elected it is as old as the last commit;
//   - reconcile (every ReconcileInterval): a record that is missing (never
//     replicated because no leader, or the cluster not yet at state
//     version 2; or removed after the mesh wrongly declared this node
//     failed), marked unhealthy or lost while the server pings, or behind a local
//     change that failed to replicate, is re-asserted; otherwise the local
//     state follows the record (REST allocations, reservations running
//     out, drains).
//
// A lifecycle call that cannot be replicated now (no leader, version gate)
// still succeeds locally and is replicated by reconcile; one the state
// machine refuses (malformed, conflicting transition) fails with its
// status. Self-allocation (Allocate) alone fails when it cannot be
// replicated: an allocation id is never handed out unrecorded.
//
// On the leader, a reaper (reaper.go) watches the mesh: a member declared
// failed has its servers marked lost at once (MarkNodeServers "lost") and
// removed after Config.ReapGrace (default 60 s).
//
// WatchEvents compares the record with what it told the server on every
// applied index (consensus.Applied.WaitChange): a new allocation id is an
// Allocated event (labels and annotations included) within milliseconds
// of the entry being applied here; a record turning draining, or this
// node being drained (servers.Store.Schedulable), is one Drain event.
//
// GET /v1/tenants/{t}/servers reads the replicated records on any node,
// with no request to other nodes, and completes this node's own servers
// with their local fields (players, metrics, last health).
//
// # Invariants
//
//   - Every call is authenticated with a tenant API key of role
//     game-server (or tenant-admin), and sees only its tenant's servers and,
//     for project-scoped keys, its project's. Another tenant's server
//     answers NotFound, never PermissionDenied.
//   - The node holds at most Config.MaxServers servers and each reports at
//     most MaxMetricsPerServer metric names; request labels are kept in the
//     registry but never become Prometheus labels. So /metrics has bounded
//     cardinality.
//   - A player connected to a server here is kicked (WatchEvents) within
//     one second of a ban or revocation being applied on this node.
package gameserver
