// Package console is the operator console every node serves at /ui/, and
// the interactive API reference at /docs/.
//
// # What it owns
//
// The console's static assets (plain HTML, CSS and small ES modules
// embedded with go:embed; there is no build step), browser sessions
// (login, logout, the session cookie and its CSRF token), the security
// headers of its pages, and the Swagger UI page over /v1/openapi.json
// (Swagger UI's files come from github.com/swaggo/files/v2).
//
// # Why it is shaped this way
//
// The console is a client of the REST API and never a second API. A
// session is nothing but a credential the operator pasted once: the
// session cookie stands for it, and package api turns the cookie back
// into "Authorization: Bearer <credential>" (api.Console.Credential)
// before its one authorisation layer runs. So the console can do exactly
// what that credential can do with curl, and a revoked or expired
// credential stops working in the console at once.
//
// Sessions live in memory on the node that issued them: the browser's
// origin is that node, so no other node needs them, and a restart logs
// its console users out. Behind a load balancer, use sticky sessions.
//
// # Invariants
//
//   - The session cookie is HttpOnly, SameSite=Strict, Path=/, has an
//     expiry (Config.TTL), and is Secure whenever the request came over
//     TLS. Its value is 32 random bytes; the store is keyed by their
//     SHA-256, so a lookup's timing says nothing about other sessions.
//   - A request with a session cookie and a mutating method must carry
//     the session's CSRF token in X-CSRF-Token, compared in constant
//     time. Login (which has no session yet) requires a JSON body and a
//     same-origin Origin or Sec-Fetch-Site when the browser sends one.
//   - Credentials and session ids never reach logs.
//   - Every page is served with a Content-Security-Policy that allows
//     scripts from 'self' only (no inline script, no eval), frame-ancestors
//     'none' and X-Frame-Options: DENY. The console's scripts insert every
//     value from the API with textContent, never innerHTML. Only /docs/
//     relaxes style-src to 'unsafe-inline', which Swagger UI needs.
//   - The session store is bounded (Config.MaxSessions); expired sessions
//     are dropped when a new one is created.
package console
