package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cassandranet/cassnet/session"
	"github.com/cassandranet/cassnet/state/identity"
)

// sessionFixture: tenant acme with projects rocket and kart, a game-server
// key, and one session issued so the signing key exists.
type sessionFixture struct {
	*harness
	gs string
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	h := newHarness(t)
	h.createTenant("acme")
	h.createProject("acme", "rocket")
	h.createProject("acme", "kart")
	gs, _ := h.newKey("acme", identity.RoleGameServer, "", 0)
	return &sessionFixture{harness: h, gs: gs}
}

// forge signs claims with key under kid and alg EdDSA.
func forge(t *testing.T, priv ed25519.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims are what a real acme session says, at now.
func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": session.Issuer, "aud": session.Audience, "sub": "p1", "tenant": "acme",
		"sid": "ses_forged", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func TestSessionLifecycle(t *testing.T) {
	f := newSessionFixture(t)
	if _, ok := f.store.state.Identity.ActiveSigningKey(); ok {
		t.Fatal("fixture should start without a signing key")
	}
	s := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"rocket","ttl_seconds":120}`)
	if !strings.HasPrefix(s.SessionID, "ses_") || s.TenantID != "acme" || s.ProjectID != "rocket" ||
		!s.ExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("session %+v", s)
	}
	// The first session created the signing key lazily, through Raft.
	if a := f.store.state.Audit.Entries("", 1); a[0].Action != "signing_key.rotate" {
		t.Fatalf("newest audit %+v", a[0])
	}
	res := f.verify(f.gs, s.Token)
	wantReason(t, res, reasonOK)
	if res.PlayerID != "p1" || res.SessionID != s.SessionID || res.ProjectID != "rocket" || !res.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("verdict %+v", res)
	}
	// Expired, with its (authentic) claims.
	f.clock.Advance(121 * time.Second)
	res = f.verify(f.token, s.Token)
	wantReason(t, res, reasonExpired)
	if res.SessionID != s.SessionID {
		t.Fatalf("expired verdict lost its claims: %+v", res)
	}
	// TTL bounds and a default of one hour.
	d := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	if !d.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("default ttl: expires %v", d.ExpiresAt)
	}
	for _, body := range []string{`{"player_id":"p1","ttl_seconds":0}`, `{"player_id":"p1","ttl_seconds":86401}`,
		`{"player_id":"bad id"}`, `{"player_id":"p1","project_id":"Bad"}`, `{}`} {
		wantError(t, f.doAs(f.gs, "POST", "/v1/tenants/acme/sessions", body), http.StatusBadRequest, "invalid_argument")
	}
	wantError(t, f.doAs(f.gs, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p1","project_id":"nope"}`), http.StatusNotFound, "not_found")
	wantError(t, f.do("POST", "/v1/tenants/nope/sessions", `{"player_id":"p1"}`), http.StatusNotFound, "not_found")
}

func TestSessionRevocation(t *testing.T) {
	f := newSessionFixture(t)
	admin, _ := f.newKey("acme", identity.RoleTenantAdmin, "", 0)
	one := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"rocket"}`)
	other := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"rocket"}`)
	if rec := f.doAs(admin, "DELETE", "/v1/tenants/acme/sessions/"+one.SessionID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	wantReason(t, f.verify(f.gs, one.Token), reasonRevoked)
	wantReason(t, f.verify(f.gs, other.Token), reasonOK)
	if a := f.store.state.Audit.Entries("acme", 1)[0]; a.Action != "session.revoke" || !strings.HasPrefix(a.Actor, "apikey:") {
		t.Fatalf("audit %+v", a)
	}

	// Player revocation in one project leaves the player's other projects.
	kart := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"kart"}`)
	if rec := f.doAs(admin, "DELETE", "/v1/tenants/acme/players/p1/sessions?project_id=rocket", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke player: %d %s", rec.Code, rec.Body)
	}
	wantReason(t, f.verify(f.gs, other.Token), reasonRevoked)
	wantReason(t, f.verify(f.gs, kart.Token), reasonOK)
	// Tenant-wide revocation catches everything issued until now...
	if rec := f.doAs(admin, "DELETE", "/v1/tenants/acme/players/p1/sessions", ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke player: %d", rec.Code)
	}
	wantReason(t, f.verify(f.gs, kart.Token), reasonRevoked)
	// ...but not a session issued afterwards.
	f.clock.Advance(2 * time.Second)
	fresh := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"kart"}`)
	wantReason(t, f.verify(f.gs, fresh.Token), reasonOK)
	wantError(t, f.doAs(admin, "DELETE", "/v1/tenants/acme/players/p1/sessions?project_id=nope", ""), http.StatusNotFound, "not_found")
	wantError(t, f.doAs(admin, "DELETE", "/v1/tenants/acme/sessions/BAD", ""), http.StatusBadRequest, "invalid_argument")
}

func TestSessionBans(t *testing.T) {
	f := newSessionFixture(t)
	rocket := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"rocket"}`)
	kart := f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"kart"}`)
	wide := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	// A project ban bans only that project's sessions.
	f.createBan("acme", `{"player_id":"p1","reason":"x","project_id":"rocket"}`)
	wantReason(t, f.verify(f.gs, rocket.Token), reasonBanned)
	wantReason(t, f.verify(f.gs, kart.Token), reasonOK)
	wantReason(t, f.verify(f.gs, wide.Token), reasonOK)
	wantError(t, f.doAs(f.gs, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p1","project_id":"rocket"}`), http.StatusForbidden, codePlayerBanned)
	f.issue(f.gs, "acme", `{"player_id":"p1","project_id":"kart"}`)
	// A tenant-wide ban bans every session, and new sessions.
	ban := f.createBan("acme", `{"player_id":"p1","reason":"x","duration_seconds":60}`)
	for _, s := range []sessionResponse{rocket, kart, wide} {
		wantReason(t, f.verify(f.gs, s.Token), reasonBanned)
	}
	wantError(t, f.doAs(f.gs, "POST", "/v1/tenants/acme/sessions", `{"player_id":"p1"}`), http.StatusForbidden, codePlayerBanned)
	// Bans are decided with the verifying node's clock.
	f.clock.Advance(61 * time.Second)
	wantReason(t, f.verify(f.gs, kart.Token), reasonOK)
	_ = ban
}

func TestVerifyRejectsForgeries(t *testing.T) {
	f := newSessionFixture(t)
	real := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	sk, _ := f.store.state.Identity.ActiveSigningKey()
	priv := ed25519.NewKeyFromSeed(sk.PrivateKey)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	now := f.clock.Now()
	parts := strings.Split(real.Token, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	flipped := []byte(parts[2])
	flipped[5] ^= 1
	tamperedClaims := goodClaims(now)
	tamperedClaims["sub"] = "someone-else"
	otherClaims := jwt.MapClaims(func() map[string]any {
		c := goodClaims(now)
		c["iss"] = "evil"
		return c
	}())
	expiredWrongAud := goodClaims(now.Add(-2 * time.Hour))
	expiredWrongAud["aud"] = "other"
	noExp := goodClaims(now)
	delete(noExp, "exp")
	noTenant := goodClaims(now)
	delete(noTenant, "tenant")
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(now))
	hmac.Header["kid"] = sk.KID
	hmacTok, _ := hmac.SignedString([]byte(priv.Public().(ed25519.PublicKey)))

	cases := map[string]string{
		"forged signature":      parts[0] + "." + parts[1] + "." + string(flipped),
		"swapped claims":        parts[0] + "." + strings.Split(forge(t, other, sk.KID, tamperedClaims), ".")[1] + "." + parts[2],
		"signed by another key": forge(t, other, sk.KID, goodClaims(now)),
		"alg none":              b64([]byte(`{"alg":"none","typ":"JWT","kid":"`+sk.KID+`"}`)) + "." + parts[1] + ".",
		"alg none no dot":       b64([]byte(`{"alg":"none"}`)) + "." + parts[1],
		"hmac with public key":  hmacTok,
		"unknown kid":           forge(t, priv, "sk_unknown", goodClaims(now)),
		"no kid":                forge(t, priv, "", goodClaims(now)),
		"wrong issuer":          forge(t, priv, sk.KID, otherClaims),
		"expired and wrong aud": forge(t, priv, sk.KID, expiredWrongAud),
		"no exp":                forge(t, priv, sk.KID, noExp),
		"no tenant":             forge(t, priv, sk.KID, noTenant),
		"garbage":               "not.a.jwt",
		"too long":              strings.Repeat("a", session.MaxTokenLen+1),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if len(tok) > 900 { // beyond the harness's body limit: in process
				wantReason(t, f.srv.verifySession(Principal{Kind: PrincipalOperator}, tok), reasonInvalid)
				return
			}
			wantReason(t, f.verify(f.gs, tok), reasonInvalid)
		})
	}
	// The same key and claims, properly signed, is fine: the cases above
	// fail for the reason they name.
	wantReason(t, f.verify(f.gs, forge(t, priv, sk.KID, goodClaims(now))), reasonOK)
	// Body errors are 400s.
	wantError(t, f.doAs(f.gs, "POST", "/v1/sessions/verify", `{}`), http.StatusBadRequest, "invalid_argument")
	wantError(t, f.doAs(f.gs, "POST", "/v1/sessions/verify", `{"token":1}`), http.StatusBadRequest, "invalid_json")
	if strings.Contains(f.logs.String(), parts[2]) {
		t.Fatal("a token was logged")
	}
}

func TestSessionAcrossRotationAndNodes(t *testing.T) {
	f := newSessionFixture(t)
	before := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	rec := f.mustDo("POST", "/v1/auth/keys/rotate", "", http.StatusOK)
	newKID := decodeBody[struct {
		KID string `json:"kid"`
	}](t, rec).KID
	after := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	if kidOf(t, after.Token) != newKID || kidOf(t, before.Token) == newKID {
		t.Fatal("rotation did not change the signing kid")
	}
	wantReason(t, f.verify(f.gs, before.Token), reasonOK)
	wantReason(t, f.verify(f.gs, after.Token), reasonOK)
	set := decodeBody[session.JWKSet](t, f.doWith("GET", "/v1/auth/jwks.json", "", ""))
	if len(set.Keys) != 2 || set.Keys[0].Kty != "OKP" || set.Keys[0].Alg != "EdDSA" || set.Keys[0].Use != "sig" ||
		(set.Keys[0].Kid != newKID && set.Keys[1].Kid != newKID) {
		t.Fatalf("jwks %+v", set)
	}

	// A second node (its own Server, key cache and clock reading, the
	// same replicated state) verifies what the first issued.
	other, err := New(Config{Store: f.store, State: f.store.state, Members: f.members, Agent: f.agent, NodeName: "node-b",
		Logger: slog.New(slog.DiscardHandler), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, other.verifySession(Principal{Kind: PrincipalOperator, ID: "x"}, before.Token), reasonOK)

	// Once the max session TTL has passed, the retired key is pruned by
	// the next write, and drops out of the JWKS.
	f.clock.Advance(25 * time.Hour)
	f.createTenant("tick")
	set = decodeBody[session.JWKSet](t, f.doWith("GET", "/v1/auth/jwks.json", "", ""))
	if len(set.Keys) != 1 || set.Keys[0].Kid != newKID {
		t.Fatalf("jwks after prune %+v", set)
	}
	wantReason(t, f.verify(f.token, before.Token), reasonInvalid) // unknown kid now
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func TestVerifyDeletedTenant(t *testing.T) {
	f := newSessionFixture(t)
	s := f.issue(f.gs, "acme", `{"player_id":"p1"}`)
	f.mustDo("DELETE", "/v1/tenants/acme", "", http.StatusNoContent)
	wantReason(t, f.verify(f.token, s.Token), reasonInvalid)
}
