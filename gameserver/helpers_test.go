package gameserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// harness is a Server on a bufconn listener, in front of a real
// api.Server over a fake store, with tenants "acme" (project "blue") and
// "other".
type harness struct {
	t      *testing.T
	store  *fakeStore
	api    *api.Server
	gs     *Server
	op     string // operator token
	client cassnetv1.GameServerServiceClient
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with a last say on the Server's Config.
func newHarnessWith(t *testing.T, configure func(*harness, *Config)) *harness {
	t.Helper()
	store := newFakeStore()
	token, id, sum, err := api.NewOperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	apiSrv, err := api.New(api.Config{Store: store, State: store.state, Members: store, Agent: store, Topics: newMemTopics(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, api: apiSrv, op: token}
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_CreateOperatorToken{
		CreateOperatorToken: &cassnetv1.CreateOperatorToken{Id: id, Name: "admin", SecretSha256: sum}}})
	h.rest(token, "POST", "/v1/tenants", `{"name":"acme"}`, http.StatusCreated)
	h.rest(token, "POST", "/v1/tenants", `{"name":"other"}`, http.StatusCreated)
	h.rest(token, "POST", "/v1/tenants/acme/projects", `{"name":"blue"}`, http.StatusCreated)

	cfg := Config{Authority: apiSrv, Applied: store.Applied(), Bans: store.state.Bans, Topics: newMemTopics(),
		Node: "node-a", HealthInterval: 100 * time.Millisecond, Logger: quiet}
	if configure != nil {
		configure(h, &cfg)
	}
	gs, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gs = gs
	ln := bufconn.Listen(1 << 20)
	done := make(chan error, 1)
	go func() { done <- gs.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.client = cassnetv1.NewGameServerServiceClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *harness) apply(cmd *cassnetv1.Command) {
	h.t.Helper()
	cmd.Version, cmd.Actor = consensus.CommandVersion, "test"
	if _, err := h.store.Apply(context.Background(), cmd); err != nil {
		h.t.Fatal(err)
	}
}

// key replicates an API key and returns it.
func (h *harness) key(tenant, role, project string) string {
	h.t.Helper()
	key, id, sum, err := api.NewAPIKey()
	if err != nil {
		h.t.Fatal(err)
	}
	h.apply(&cassnetv1.Command{Op: &cassnetv1.Command_CreateApiKey{CreateApiKey: &cassnetv1.CreateAPIKey{
		Id: id, Tenant: tenant, Name: role, Role: role, Project: project, SecretSha256: sum}}})
	return key
}

// rest calls the REST API and checks the status; it returns the body.
func (h *harness) rest(cred, method, target, body string, want int) []byte {
	h.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	rec := httptest.NewRecorder()
	h.api.Handler().ServeHTTP(rec, req)
	if rec.Code != want {
		h.t.Fatalf("%s %s: %d, want %d: %s", method, target, rec.Code, want, rec.Body)
	}
	return rec.Body.Bytes()
}

// session issues a session token for player in acme.
func (h *harness) session(player, project string) string {
	h.t.Helper()
	body := h.rest(h.op, "POST", "/v1/tenants/acme/sessions",
		`{"player_id":"`+player+`","project_id":"`+project+`"}`, http.StatusCreated)
	var res struct{ Token string }
	if err := json.Unmarshal(body, &res); err != nil {
		h.t.Fatal(err)
	}
	return res.Token
}

// ctx is a context carrying key as "authorization: Bearer".
func (h *harness) ctx(key string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// register registers server id with key and fails the test on error.
func (h *harness) register(key, id, project string) {
	h.t.Helper()
	if _, err := h.client.Register(h.ctx(key), &cassnetv1.RegisterRequest{
		ServerId: id, ProjectId: project, Address: "10.0.0.9", Capacity: 16,
		Ports: map[string]uint32{"game": 7777}}); err != nil {
		h.t.Fatalf("register %s: %v", id, err)
	}
}
