package gameserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

// recvWithin receives the next event, failing after d.
func recvWithin(t *testing.T, st cassnetv1.GameServerService_WatchEventsClient, d time.Duration) *cassnetv1.ServerEvent {
	t.Helper()
	type result struct {
		ev  *cassnetv1.ServerEvent
		err error
	}
	ch := make(chan result, 1)
	go func() { ev, err := st.Recv(); ch <- result{ev, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("recv: %v", r.err)
		}
		return r.ev
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
	}
	return nil
}

func TestKickOnBanAndRevoke(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	h.register(key, "srv-1", "blue")
	ctx := h.ctx(key)
	for _, player := range []string{"alice", "bob"} {
		res, err := h.client.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: "srv-1", Token: h.session(player, "blue")})
		if err != nil || !res.Valid {
			t.Fatalf("connect %s: %+v %v", player, res, err)
		}
	}
	st, err := h.client.WatchEvents(ctx, &cassnetv1.WatchEventsRequest{ServerId: "srv-1"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recvWithin(t, st, time.Second); ev.GetBans() == nil || len(ev.GetBans().Bans) != 0 {
		t.Fatalf("first event %v, want an empty ban set", ev)
	}
	// A ban in another project changes nothing for this server.
	h.rest(h.op, "POST", "/v1/tenants/acme/projects", `{"name":"red"}`, http.StatusCreated)
	h.rest(h.op, "POST", "/v1/tenants/acme/bans", `{"player_id":"alice","reason":"x","project_id":"red"}`, http.StatusCreated)

	start := time.Now()
	h.rest(h.op, "POST", "/v1/tenants/acme/bans", `{"player_id":"alice","reason":"aimbot"}`, http.StatusCreated)
	var kick *cassnetv1.ServerEvent_Kick
	var bans []*cassnetv1.ActiveBan
	for kick == nil {
		ev := recvWithin(t, st, time.Second)
		if b := ev.GetBans(); b != nil {
			bans = b.Bans
		}
		kick = ev.GetKick()
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("kick took %v", took)
	}
	if kick.PlayerId != "alice" || kick.Reason != "banned" || kick.BanId == "" {
		t.Fatalf("kick = %v", kick)
	}
	if len(bans) != 1 || bans[0].PlayerId != "alice" || bans[0].Reason != "aimbot" {
		t.Fatalf("ban cache = %v", bans)
	}

	h.rest(h.op, "DELETE", "/v1/tenants/acme/players/bob/sessions", "", http.StatusNoContent)
	for {
		if k := recvWithin(t, st, time.Second).GetKick(); k != nil {
			if k.PlayerId != "bob" || k.Reason != "revoked" {
				t.Fatalf("kick = %v", k)
			}
			break
		}
	}

	h.gs.Leaving()
	var kinds []string
	for len(kinds) < 2 {
		ev := recvWithin(t, st, time.Second)
		switch {
		case ev.GetDrain() != nil:
			kinds = append(kinds, "drain")
		case ev.GetNodeLeaving() != nil:
			kinds = append(kinds, "leaving")
		}
	}
	if strings.Join(kinds, ",") != "drain,leaving" {
		t.Fatalf("events %v", kinds)
	}
}

func TestPublishSubscribe(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	ctx := h.ctx(key)
	sub, err := h.client.Subscribe(ctx, &cassnetv1.SubscribeRequest{Topic: "match.1"})
	if err != nil {
		t.Fatal(err)
	}
	// The subscription opens asynchronously: publish until it arrives.
	got := make(chan *cassnetv1.TopicEvent, 1)
	go func() {
		ev, err := sub.Recv()
		if err == nil {
			got <- ev
		}
	}()
	deadline := time.After(5 * time.Second)
	for {
		if _, err := h.client.Publish(ctx, &cassnetv1.PublishRequest{Topic: "match.1", Payload: []byte("gg")}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-got:
			if ev.Kind != "message" || string(ev.Payload) != "gg" || ev.ContentType != "application/octet-stream" {
				t.Fatalf("event %v", ev)
			}
			_, err = h.client.Publish(ctx, &cassnetv1.PublishRequest{Topic: "match.1", Payload: make([]byte, 2048)})
			wantCode(t, err, codes.ResourceExhausted)
			_, err = h.client.Publish(ctx, &cassnetv1.PublishRequest{})
			wantCode(t, err, codes.InvalidArgument)
			return
		case <-deadline:
			t.Fatal("no message")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
