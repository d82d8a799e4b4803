// Package gameserver is the local game-server API: the gRPC service
// GameServerService (proto/cassandranet/v1/gameserver.proto) that a game
// server, usually through the C library in cabi/, calls on the node of its
// own VM. The node serves it on the game-server gRPC port, on loopback
// unless told otherwise.
//
// # What it owns
//
// The registry of the game servers registered on this node: registration,
// lifecycle state, health, connected players and reported metrics. It
// borrows everything else. Authentication, tenant isolation and session
// verification are the REST API's own code (api.Server.Authenticate,
// api.Principal.CanSee, api.Server.VerifySession), so there is one
// authorisation layer and VerifySession answers exactly as REST does.
// Publish and Subscribe are thin adapters over api.Topics, the same
// subscription core the REST SSE route adapts. Bans and revocations are
// read from this node's replica of the Raft state.
//
// # How the registry travels: it does not
//
// The registry is soft state that changes every second (player counts,
// metrics) and is worthless once its node is gone. Raft would put every
// change through the leader, the log and every replica's disk. Gossip
// (memberlist user messages) is bounded by a UDP packet and re-sends the
// whole cluster's state to every node all the time; a pubsub topic would
// do the same and, being a tenant topic, could be forged by the tenant's
// own keys. So each node keeps its own servers in memory, nothing is sent
// when they change, and a cluster-wide read (GET /v1/tenants/{t}/servers
// on any node) asks the alive members for theirs at read time, each with a
// short timeout; members that do not answer are named in the reply. Writes
// cost nothing on the network; reads cost one request per node, which
// suits a fleet view that is read rarely and written constantly. A node
// that dies takes its servers with it, which is right: they died too, or
// will re-register with the node that replaces it.
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
