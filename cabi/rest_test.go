package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
)

// restClient sets up the fixture through the REST API.
type restClient struct {
	t   *testing.T
	ctx context.Context
	cl  *testnet.Client
}

func (r *restClient) do(addr, method, path string, body any, want int) []byte {
	r.t.Helper()
	res, err := r.cl.Do(r.ctx, method, addr, path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	if res.Status != want {
		r.t.Fatalf("%s %s on %s: %d, want %d: %s", method, path, addr, res.Status, want, res.Body)
	}
	return res.Body
}

func (r *restClient) waitReady(addrs ...string) {
	r.t.Helper()
	for _, a := range addrs {
		for {
			if res, err := r.cl.Do(r.ctx, "GET", a, "/v1/ready", nil); err == nil && res.Status == http.StatusOK {
				break
			}
			select {
			case <-r.ctx.Done():
				r.t.Fatalf("%s not ready", a)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// fixture creates tenant acme and its keys, and returns them as the C
// programs' environment.
func (r *restClient) fixture(addr string) []string {
	// The bootstrap node replicates its admin token shortly after it is ready.
	for {
		res, err := r.cl.Do(r.ctx, "POST", addr, "/v1/tenants", map[string]any{"name": "acme"})
		if err == nil && res.Status == http.StatusCreated {
			break
		}
		select {
		case <-r.ctx.Done():
			r.t.Fatalf("create tenant: %v %v", err, res)
		case <-time.After(100 * time.Millisecond):
		}
	}
	key := func(role string) string {
		var k struct{ Key string }
		if err := r.json(addr, "/v1/tenants/acme/keys", map[string]any{"name": role, "role": role}, &k); err != nil {
			r.t.Fatal(err)
		}
		return k.Key
	}
	return []string{"CN_KEY=" + key("game-server"), "CN_READONLY_KEY=" + key("read-only")}
}

// players issues the sessions of one C run (player ids end in sfx), bans
// its "mallory" and lets its "eve" expire.
func (r *restClient) players(addr, sfx string) []string {
	session := func(player string, ttl int64) string {
		var s struct{ Token string }
		if err := r.json(addr, "/v1/tenants/acme/sessions", map[string]any{"player_id": player + sfx, "ttl_seconds": ttl}, &s); err != nil {
			r.t.Fatal(err)
		}
		return s.Token
	}
	env := []string{
		"CN_ALICE=alice" + sfx, "CN_SERVER_ID=c-test" + sfx,
		"CN_TOKEN_ALICE=" + session("alice", 3600), "CN_TOKEN_BOB=" + session("bob", 3600),
		"CN_TOKEN_BANNED=" + session("mallory", 3600), "CN_BANNED_PLAYER=mallory" + sfx,
		"CN_TOKEN_EXPIRED=" + session("eve", 1), "CN_TOKEN_CAROL=" + session("carol", 3600),
	}
	r.do(addr, "POST", "/v1/tenants/acme/bans", map[string]any{"player_id": "mallory" + sfx, "reason": "aimbot"}, http.StatusCreated)
	time.Sleep(1100 * time.Millisecond) // eve's one-second session expires
	return env
}

// json POSTs body and decodes a 201 answer into v.
func (r *restClient) json(addr, path string, body, v any) error {
	res, err := r.cl.Do(r.ctx, "POST", addr, path, body)
	if err != nil {
		return err
	}
	if res.Status != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", path, res.Status, res.Body)
	}
	return res.JSON(v)
}
