package fleet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/state/identity"
	"github.com/cassandranet/cassnet/state/servers"
)

// keyring makes and checks CN_KEY credentials with a secret that lives
// only in this process's memory.
type keyring struct{ secret [32]byte }

func newKeyring() (*keyring, error) {
	k := &keyring{}
	if _, err := rand.Read(k.secret[:]); err != nil {
		return nil, fmt.Errorf("fleet: server key secret: %w", err)
	}
	return k, nil
}

func (k *keyring) mac(tenant, project, fleet, id string) []byte {
	m := hmac.New(sha256.New, k.secret[:])
	for _, p := range []string{tenant, project, fleet, id} {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// key is the CN_KEY of one server.
func (k *keyring) key(srv servers.Server) string {
	return api.ServerKeyPrefix + srv.ID + "." + base64.RawURLEncoding.EncodeToString(k.mac(srv.Tenant, srv.Project, srv.Fleet, srv.ID))
}

// AuthenticateServerKey implements api.ServerKeys: the credential of a
// fleet server whose record is on this node.
func (a *Agent) AuthenticateServerKey(cred string) (api.Principal, bool) {
	rest, ok := strings.CutPrefix(cred, api.ServerKeyPrefix)
	if !ok {
		return api.Principal{}, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return api.Principal{}, false
	}
	id, sig := rest[:i], rest[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return api.Principal{}, false
	}
	srv, ok := a.serverOf(id)
	if !ok || srv.Node != a.node || srv.Fleet == "" {
		return api.Principal{}, false
	}
	if !hmac.Equal(got, a.keys.mac(srv.Tenant, srv.Project, srv.Fleet, srv.ID)) {
		return api.Principal{}, false
	}
	return api.Principal{Kind: api.PrincipalAPIKey, ID: "fleet-" + srv.ID, Tenant: srv.Tenant,
		Role: identity.RoleGameServer, Project: srv.Project, Server: srv.ID}, true
}
