// Package pubsub is CassandraNet's topic messaging: tenant-scoped topics
// carried between nodes by go-libp2p GossipSub, with ordered, gap-checked,
// resumable delivery to subscribers on every node. See docs/pubsub.md for
// the client-visible contract.
//
// # What it owns
//
//   - The node's libp2p host on the p2p port: TCP only, libp2p TLS only,
//     no relay. Its key is in the data dir (LoadIdentity), so the peer ID
//     survives restarts; the node advertises it in mesh.Meta.PeerID.
//   - Peers: every alive or suspect mesh member that advertises a peer ID
//     and, with Config.Binder (the node always sets one), whose node
//     certificate binds that ID is dialled and its connection protected
//     from the connection manager. A ConnectionGater refuses any other
//     peer ID at InterceptSecured (the first hook where the ID is
//     authenticated) and InterceptPeerDial. Members are polled (every
//     second, and on a lookup miss) because mesh.Changes has a single
//     consumer, autopilot.
//   - The binding (Binder): gossip metadata is unsigned, so the peer ID
//     a member advertises is trusted only once the member's certificate,
//     fetched over a connection verified against the cluster CA (the
//     node uses an mTLS handshake with the member's Raft/RPC port), names
//     the member and binds the ID in its urn:cassnet:peer: URI SAN
//     (pki.PeerIDOf). Bindings hold until the certificate expires or the
//     member's name, Raft address or peer ID changes, and are refreshed
//     halfway to expiry.
//   - GossipSub with topics "cass/<tenant>/<topic>", a validator that
//     refuses oversized or malformed envelopes and messages whose
//     forwarder, author or origin is not a member, sized queues, a tracer
//     that counts GossipSub's otherwise silent drops, and flood publishing
//     (v0.16 otherwise publishes to nobody until the mesh's first
//     heartbeat after a join).
//   - Envelopes (proto Envelope): origin node ID, epoch, per-stream
//     sequence number, publish time, content type, payload.
//   - The outbox (outbox.go): a topic's own messages are sequenced and
//     put in the history by Publish, then coalesced by the topic's
//     flusher into one ENVELOPE_KIND_BATCH gossip message (up to
//     BatchMax messages or BatchBytes): GossipSub's cost is per message.
//     Every message in a batch keeps its own {origin, epoch, seq}, so
//     ordering, gap detection and repair are per message as before.
//   - The head ledger (heads.go): the one file this package writes
//     (Config.HeadsPath, in the data dir). The flusher records each own
//     stream's head before the hand-over, and a restarted node announces
//     its previous life's heads, so that a tail that died with a crashed
//     origin is reported as a gap instead of vanishing.
//   - Ordering and repair: per stream (one origin epoch on one topic)
//     in-order delivery, out-of-order arrivals held up to HoldTimeout,
//     duplicates dropped, gaps repaired over /cassnet/backfill/1.0.0 from
//     the origin or any peer, and gaps that cannot be repaired delivered
//     as explicit gap events.
//   - The bounded per-topic history, and the Subscription type that the
//     SSE handler (and later gRPC) adapt: a cursor into the history plus a
//     position vector, which is also the event id (eventid.go), so resume
//     works on any node.
//
// # What it must not touch
//
// Raft and HTTP. Membership is read from Members (mesh), never kept in a
// second list: the peer table is rebuilt from it.
//
// # Epochs and sequence numbers
//
// A stream is (topic, origin, epoch). The epoch is a random non-zero
// 64-bit number the origin picks when it first publishes on a topic after
// it starts, or after the topic went idle and its history was dropped.
// History lives in memory only, so a restart always begins new epochs:
// "the epoch changes when the origin lost its history". Sequence numbers
// start at 1 in every epoch. GossipSub's own Seqno is per host, not per
// topic, and is not used for ordering.
//
// # Signing policy
//
// StrictNoSign: messages carry no libp2p signature. Every connection is
// libp2p TLS, so the forwarding peer is authenticated and must be a
// member; the validator also requires the claimed author (From) to be a
// member and the envelope's origin to be that member's node ID. What this
// does not give: end-to-end authentication of the origin. A member that
// forwards a message could forge one "from" another member. The trust
// boundary is the cluster (every member holds the join token); signing
// every message would cost a signature per publish and a verification
// per hop (measured here: signing caps a publisher near 5,700 msgs/s).
//
// # Invariants
//
//   - Per stream, a node appends messages to the history in sequence
//     order, never twice; a sequence number is either delivered or
//     covered by a gap entry, never skipped silently.
//   - A buffer given to GossipSub's Publish is freshly encoded and never
//     touched again.
//   - Every goroutine (topic readers and flushers, the connect and
//     maintenance loops, dials, repairs) is started by the Service and
//     stopped by Stop.
//   - Only a topic's flusher hands its message envelopes to GossipSub, in
//     sequence order.
//   - Lock order: Service.mu, then topic.mu, then Service.gapMu. No lock
//     is held across network I/O.
package pubsub
