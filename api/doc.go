// Package api is the REST API that every CassandraNet node answers.
//
// # What it owns
//
// HTTP routing, authentication and authorisation, request decoding and
// validation, the JSON error format, consistency and blocking-query
// semantics for reads, Prometheus metrics and the OpenAPI document. It
// never touches Raft or memberlist directly: writes become typed commands
// handed to Store.Apply, reads go through Store.Read and then Store.State,
// membership comes from Members, and topic messaging from Topics (an
// interface over package pubsub, so that api does not link libp2p; SSE and
// the streaming protocol's WebSocket, stream.go, are thin adapters over
// its subscriptions and publishes). node wires real implementations in;
// tests plug in in-memory ones.
//
// # Why it is shaped this way
//
// There is one route table (routes.go). It registers handlers on an
// http.ServeMux, applies the single authorisation layer (every route names
// the access level it needs, so no handler checks credentials itself),
// rate limits mutating routes, labels metrics by route pattern, and is
// compared against openapi.json and against the authorisation matrix of
// authz_test.go by tests, so neither can drift from the code.
//
// # Identity and access
//
// Principals are operators (operator tokens) and tenant API keys with a
// role: tenant-admin, game-server (optionally scoped to one project) or
// read-only. authorize (auth.go) authenticates (401), then enforces tenant
// isolation from the route's {tenant} path value (a key of another tenant
// gets 404, decided before anything is looked up, so existence never
// leaks), then the route's role (403). Principal.canSee is the one tenant
// rule; verification applies it to the tenant inside a token.
//
// Authentication never costs a Raft write: failures are counted per
// (credential id, reason) and written to the audit log every 10 s, and
// API key uses are coalesced into one last-used write a minute (Run,
// background.go). Only credential ids, never secrets, reach logs, metrics
// and the audit log.
//
// Player sessions are EdDSA JWTs (package session) signed by whichever
// node receives the request, with the key in the replicated state; issuing
// and verifying read only the local replica. Revocation and ban checks
// happen here, after the session package has checked the token itself.
//
// Rate limits (ratelimit.go) are token buckets per API key, per tenant and
// (optionally) per operator token, enforced per node: N nodes admit up to
// N times the limit cluster-wide. See docs/identity.md.
//
// Validation lives in consensus (ValidateName and friends). The API calls
// the same validators before proposing, so bad input fails fast with a 400
// instead of a round trip through the log, and the state machine checks
// again because it must be deterministic on its own.
//
// # Invariants
//
//   - Every response body is JSON except GET /metrics, /debug/pprof/
//     (operators only, pprof.go), the topic event stream
//     (text/event-stream, sse.go), the streaming protocol (a WebSocket
//     of protobuf messages after the upgrade, stream.go) and the
//     console's pages under /ui/ and /docs/ (console.go hands those to
//     package console).
//   - A console session cookie stands for exactly one credential: the
//     session bridge (console.go) turns it into that credential's
//     Authorization header before the route table, never when a
//     credential header is present, and refuses a mutating request
//     without the session's CSRF token. Every error is
//     {"error":{"code":"...","message":"..."}}; internal errors never leak
//     details to the client, they are logged instead.
//   - A handler panic is recovered, logged and answered with a 500.
//   - Tokens, keys, session tokens and Authorization headers are never
//     logged, and only credential ids appear in metrics or the audit log.
//   - An API key acts only inside its own tenant (and project, if scoped);
//     another tenant's resources answer 404, never 403.
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
