// Package api is the REST API that every CassandraNet node answers.
//
// # What it owns
//
// HTTP routing, authentication and authorisation, request decoding and
// validation, the JSON error format, consistency and blocking-query
// semantics for reads, Prometheus metrics and the OpenAPI document. It
// never touches Raft or memberlist directly: writes become typed commands
// handed to Store.Apply, reads go through Store.Read and then Store.State,
// and membership comes from Members. node wires real implementations in;
// tests plug in in-memory ones.
//
// # Why it is shaped this way
//
// There is one route table (routes.go). It registers handlers on an
// http.ServeMux, applies the single authorisation layer (every route names
// the role it needs, so no handler checks credentials itself), labels
// metrics by route pattern, and is compared against openapi.json by a test,
// so the document cannot drift from the code.
//
// Validation lives in consensus (ValidateName and friends). The API calls
// the same validators before proposing, so bad input fails fast with a 400
// instead of a round trip through the log, and the state machine checks
// again because it must be deterministic on its own.
//
// # Invariants
//
//   - Every response body is JSON except GET /metrics. Every error is
//     {"error":{"code":"...","message":"..."}}; internal errors never leak
//     details to the client, they are logged instead.
//   - A handler panic is recovered, logged and answered with a 500.
//   - Tokens and Authorization headers are never logged.
//   - Every read of the state machine carries X-Cass-Index,
//     X-Cass-Known-Leader and X-Cass-Last-Contact.
//   - A write that may or may not have been committed is answered with
//     504 "indeterminate", never with a plain failure.
//   - Metric labels are bounded: routes are labelled by pattern, never by
//     raw path.
//
// # Consistency
//
// Reads default to consensus.Default. ?stale reads the local state machine
// with no network hop; ?consistent makes the leader confirm its leadership
// with a quorum first. The ban check (GET
// /v1/tenants/{tenant}/players/{player}/ban) is the hot path for game
// servers and is stale by default; ?default or ?consistent upgrade it.
//
// # Blocking queries
//
// List endpoints accept ?index=N&wait=D: the request is held until the
// state's index moves past N or D elapses (default 5m, max 10m), and then
// answered with the current data. The HTTP server's WriteTimeout must
// therefore exceed 10 minutes.
package api
