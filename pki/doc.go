// Package pki owns CassandraNet's cluster trust: the cluster CA, node
// certificates and their signing requests, the join token format, the
// TLS configurations every node-to-node link uses, and the join
// handshake that turns a join token into a signed node certificate.
//
// Invariants:
//   - The CA private key is created by the bootstrap node and written to
//     data dirs only with mode 0600. The only place it crosses the network
//     is a join response of a JoinServer with ShareCAKey set: inside the
//     join stream's TLS 1.3 session, after the joiner proved a valid join
//     secret, never for a renewal or a keys-only request; the joiner
//     accepts it only if it matches the pinned CA certificate.
//   - Every TLS configuration built here is TLS 1.3 only. Node-to-node
//     configurations require and verify a client certificate signed by the
//     cluster CA.
//   - A node certificate may bind one libp2p peer ID, as the URI SAN
//     urn:cassnet:peer:<ID> (PeerURI, PeerIDOf); the CA copies no other
//     URI. Nodes trust the binding only from a chain they verified.
//   - Join secrets are compared only in constant time, and neither a
//     secret nor a private key is ever logged.
//
// See docs/security.md for the protocol and the threat model.
package pki
