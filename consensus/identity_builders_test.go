package consensus

import (
	"bytes"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

const testKeyID = "00000000000000aa"

// Identity command builders, in the style of fsm_test.go's.

func createKey(tenant, id, role, project string, expiresUnix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_CreateApiKey{CreateApiKey: &cassnetv1.CreateAPIKey{
		Id: id, Tenant: tenant, Name: "ci key", Role: role, Project: project,
		SecretSha256: bytes.Repeat([]byte{1}, 32), ExpiresUnix: expiresUnix,
	}}
	return c
}

func revokeKey(tenant, id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeApiKey{RevokeApiKey: &cassnetv1.RevokeAPIKey{Tenant: tenant, Id: id}}
	return c
}

func touchKeys(id string, unix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_TouchApiKeys{TouchApiKeys: &cassnetv1.TouchAPIKeys{
		Entries: []*cassnetv1.KeyUse{{Id: id, LastUsedUnix: unix}},
	}}
	return c
}

func rotateKey(kid string, ifNone bool) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RotateSigningKey{RotateSigningKey: &cassnetv1.RotateSigningKey{
		Kid: kid, PrivateKey: bytes.Repeat([]byte{byte(len(kid))}, 32), IfNone: ifNone,
	}}
	return c
}

func revokeSession(tenant, sid string, expiresUnix int64) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeSession{RevokeSession: &cassnetv1.RevokeSession{
		Tenant: tenant, SessionId: sid, ExpiresUnix: expiresUnix,
	}}
	return c
}

func revokePlayer(tenant, player, project string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokePlayerSessions{RevokePlayerSessions: &cassnetv1.RevokePlayerSessions{
		Tenant: tenant, PlayerId: player, Project: project,
	}}
	return c
}

func authFailures(credential, reason, tenant string, count uint32) *cassnetv1.Command {
	c := newCmd()
	c.Actor = "node:n1"
	c.Op = &cassnetv1.Command_RecordAuthFailures{RecordAuthFailures: &cassnetv1.RecordAuthFailures{
		Node: "n1", Entries: []*cassnetv1.AuthFailure{{Credential: credential, Reason: reason, Tenant: tenant, Count: count}},
	}}
	return c
}

func revokeToken(id string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_RevokeOperatorToken{RevokeOperatorToken: &cassnetv1.RevokeOperatorToken{Id: id}}
	return c
}

func setSessionTTL(seconds uint32) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetSettings{SetSettings: &cassnetv1.SetSettings{MaxSessionTtlSeconds: seconds}}
	return c
}

// identityState is applied on top of baseState: a game-server key scoped
// to acme/shooter, an active signing key, a session revocation and a
// player revocation in acme/shooter.
func identityState() []*cassnetv1.Command {
	return []*cassnetv1.Command{
		createKey("acme", testKeyID, RoleGameServer, "shooter", 0),
		touchKeys(testKeyID, testEpoch.Unix()),
		rotateKey("kid1", true),
		revokeSession("acme", "ses1", 0),
		revokePlayer("acme", "p1", "shooter"),
	}
}
