package gameserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/api"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/identity"
)

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code %v (%v), want %v", got, err, want)
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t)
	gsKey := h.key("acme", identity.RoleGameServer, "")
	h.register(gsKey, "srv-1", "")
	other := h.key("other", identity.RoleGameServer, "")
	reader := h.key("acme", identity.RoleReadOnly, "")
	blueOnly := h.key("acme", identity.RoleGameServer, "blue")
	cases := []struct {
		name string
		ctx  context.Context
		want codes.Code
	}{
		{"no key", h.ctx(""), codes.Unauthenticated},
		{"garbage", h.ctx("cnk_nonsense"), codes.Unauthenticated},
		{"unknown key", h.ctx(strings.Replace(gsKey, gsKey[len(gsKey)-4:], "AAAA", 1)), codes.Unauthenticated},
		{"operator token", h.ctx(h.op), codes.PermissionDenied},
		{"read-only role", h.ctx(reader), codes.PermissionDenied},
		{"other tenant", h.ctx(other), codes.NotFound},
		{"other project", h.ctx(blueOnly), codes.NotFound},
		{"game-server key", h.ctx(gsKey), codes.OK},
		{"x-api-key", metadata.AppendToOutgoingContext(h.ctx(""), "x-api-key", gsKey), codes.OK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.Ready(c.ctx, &cassnetv1.ReadyRequest{ServerId: "srv-1"})
			wantCode(t, err, c.want)
		})
	}
	// A scoped key cannot register in, or ask about, another project.
	_, err := h.client.Register(h.ctx(blueOnly), &cassnetv1.RegisterRequest{ServerId: "x", ProjectId: "red"})
	wantCode(t, err, codes.NotFound)
	// Streams are authenticated too.
	st, err := h.client.WatchEvents(h.ctx(reader), &cassnetv1.WatchEventsRequest{ServerId: "srv-1"})
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.PermissionDenied)
}

func TestLifecycleHealthAndMetrics(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	h.register(key, "srv-1", "blue")
	ctx := h.ctx(key)
	if _, err := h.client.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: "srv-1", State: cassnetv1.ServerState_SERVER_STATE_ALLOCATED}); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: "srv-1"})
	wantCode(t, err, codes.InvalidArgument)

	hs, err := h.client.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Send(&cassnetv1.HealthPing{ServerId: "srv-1"}); err != nil {
		t.Fatal(err)
	}
	info := func() Info {
		t.Helper()
		list := h.gs.Servers(api.Principal{Kind: api.PrincipalOperator}, "acme")
		if len(list) != 1 {
			t.Fatalf("servers = %+v", list)
		}
		return list[0]
	}
	waitFor(t, time.Second, func() bool { return info().Healthy })
	if in := info(); in.State != "allocated" || in.ProjectID != "blue" || in.Ports["game"] != 7777 || in.Node != "node-a" {
		t.Fatalf("info = %+v", in)
	}
	// Three missed intervals (100 ms each) mark it unhealthy.
	waitFor(t, time.Second, func() bool { return !info().Healthy })
	if _, err := hs.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}

	if _, err := h.client.ReportMetric(ctx, &cassnetv1.ReportMetricRequest{ServerId: "srv-1", Name: "tick_ms", Value: 16.5,
		Labels: map[string]string{"map": "dust"}}); err != nil {
		t.Fatal(err)
	}
	if l := info().MetricLabels["tick_ms"]; l["map"] != "dust" {
		t.Fatalf("metric labels %v", info().MetricLabels)
	}
	_, err = h.client.ReportMetric(ctx, &cassnetv1.ReportMetricRequest{ServerId: "srv-1", Name: "Bad-Name"})
	wantCode(t, err, codes.InvalidArgument)
	for i := 1; i < MaxMetricsPerServer; i++ {
		if _, err := h.client.ReportMetric(ctx, &cassnetv1.ReportMetricRequest{ServerId: "srv-1", Name: "m_" + string(rune('a'+i%26)) + strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.client.ReportMetric(ctx, &cassnetv1.ReportMetricRequest{ServerId: "srv-1", Name: "one_too_many"})
	wantCode(t, err, codes.ResourceExhausted)

	reg := prometheus.NewRegistry()
	reg.MustRegister(h.gs.Collector())
	want := `
# HELP cassnet_gameserver_players Players connected to a game server registered on this node.
# TYPE cassnet_gameserver_players gauge
cassnet_gameserver_players{server="srv-1",tenant="acme"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cassnet_gameserver_players"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(h.gs.Collector(), "cassnet_gameserver_metric"); n != MaxMetricsPerServer {
		t.Fatalf("%d metric series, want %d", n, MaxMetricsPerServer)
	}
	if _, err := h.client.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: "srv-1", State: cassnetv1.ServerState_SERVER_STATE_SHUTDOWN}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.Ready(ctx, &cassnetv1.ReadyRequest{ServerId: "srv-1"})
	wantCode(t, err, codes.NotFound)
}

func TestVerifyConnectAndBans(t *testing.T) {
	h := newHarness(t)
	key := h.key("acme", identity.RoleGameServer, "")
	h.register(key, "srv-1", "")
	ctx := h.ctx(key)
	good, bad := h.session("alice", ""), h.session("mallory", "")
	h.rest(h.op, "POST", "/v1/tenants/acme/bans", `{"player_id":"mallory","reason":"cheating"}`, http.StatusCreated)

	p, err := h.api.Authenticate(key)
	if err != nil {
		t.Fatal(err)
	}
	tampered := good[:len(good)-3] + "abc"
	if tampered == good { // 1 in 262,144
		tampered = good[:len(good)-3] + "xyz"
	}
	for _, tok := range []string{good, bad, "not-a-token", tampered} {
		res, err := h.client.VerifySession(ctx, &cassnetv1.VerifySessionRequest{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if rest := h.api.CheckSession(p, tok); res.Valid != rest.Valid || res.Reason != rest.Reason || res.PlayerId != rest.PlayerID {
			t.Fatalf("grpc %+v, rest %+v", res, rest)
		}
	}

	res, err := h.client.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: "srv-1", Token: good})
	if err != nil || !res.Valid || res.PlayerId != "alice" {
		t.Fatalf("connect alice: %+v %v", res, err)
	}
	res, err = h.client.PlayerConnect(ctx, &cassnetv1.PlayerConnectRequest{ServerId: "srv-1", Token: bad})
	if err != nil || res.Valid || res.Reason != "banned" {
		t.Fatalf("connect mallory: %+v %v", res, err)
	}
	if got := h.gs.Servers(api.Principal{Kind: api.PrincipalOperator}, "acme")[0].Players; len(got) != 1 || got[0] != "alice" {
		t.Fatalf("players = %v", got)
	}
	if _, err := h.client.PlayerDisconnect(ctx, &cassnetv1.PlayerDisconnectRequest{ServerId: "srv-1", PlayerId: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got := h.gs.Servers(api.Principal{Kind: api.PrincipalOperator}, "acme")[0].PlayerCount; got != 0 {
		t.Fatalf("player count %d after disconnect", got)
	}

	for player, want := range map[string]bool{"mallory": true, "alice": false} {
		res, err := h.client.IsBanned(ctx, &cassnetv1.IsBannedRequest{PlayerId: player})
		if err != nil || res.Banned != want {
			t.Fatalf("IsBanned(%s) = %+v %v", player, res, err)
		}
	}
	_, err = h.client.IsBanned(ctx, &cassnetv1.IsBannedRequest{})
	wantCode(t, err, codes.InvalidArgument)
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
