// Package cli is the operator command line for everyday work: verbs on
// nouns (cassnet tenants list, cassnet bans create, ...), each one a call
// of the REST API.
//
// # What it owns
//
// The command table (commands.go), flag and environment parsing for those
// commands, a small REST client (client.go) and the output: aligned tables
// by default, the API's JSON with --json.
//
// # Why it is shaped this way
//
// Like the console, the CLI is only a client of the REST API: it has no
// powers of its own, and the API's authorisation decides what a
// credential may do. cmd/cassnet stays a thin dispatcher; everything a
// verb needs is one entry in the table, with its example.
//
// # Invariants
//
//   - Every verb's --help shows an example.
//   - A failed call exits non-zero with the API's error code and message.
//   - Every flag is also read from CASS_<FLAG_NAME> (--http-addr is
//     CASS_HTTP_ADDR); the command line wins.
//   - Text from the API (ban reasons, labels, names) is printed with
//     control characters escaped, so hostile text cannot drive the
//     terminal.
package cli
