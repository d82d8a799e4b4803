package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// harness is a Server over the fakes, with one operator token.
type harness struct {
	t       testing.TB
	srv     *Server
	h       http.Handler
	store   *fakeStore
	clock   *fakeClock
	agent   *fakeAgent
	members *fakeMembers
	token   string
	tokenID string
	logs    *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newHarness builds the harness; opts edit the server's Config.
func newHarness(t testing.TB, opts ...func(*Config)) *harness {
	t.Helper()
	clock := newFakeClock()
	store := newFakeStore(clock)
	token, id, sum, err := NewOperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	// What node's bootstrap does: replicate the token's hash.
	store.mustApply(&cassnetv1.Command{Actor: "bootstrap", Op: &cassnetv1.Command_CreateOperatorToken{
		CreateOperatorToken: &cassnetv1.CreateOperatorToken{Id: id, Name: "admin", SecretSha256: sum},
	}})
	members := &fakeMembers{list: []mesh.Member{
		{Meta: mesh.Meta{Name: "b", ID: "node-b", Role: mesh.RoleServer, Version: "1.0.0", RaftAddr: "10.0.0.2:7001", HTTPAddr: "10.0.0.2:8080"}, GossipAddr: "10.0.0.2:7946", Status: mesh.StatusAlive},
		{Meta: mesh.Meta{Name: "a", ID: "node-a", Role: mesh.RoleServer, Version: "1.0.0", RaftAddr: "10.0.0.1:7001", HTTPAddr: "10.0.0.1:8080", P2PAddr: "10.0.0.1:4001", GRPCAddr: "10.0.0.1:9090"}, GossipAddr: "10.0.0.1:7946", Status: mesh.StatusAlive},
		{Meta: mesh.Meta{Name: "c", ID: "node-c", Role: mesh.RoleServer, Version: "1.0.0"}, GossipAddr: "10.0.0.3:7946", Status: mesh.StatusSuspect},
		{Meta: mesh.Meta{Name: "d", ID: "node-d", Role: mesh.RoleServer, Version: "0.9.0"}, GossipAddr: "10.0.0.4:7946", Status: mesh.StatusLeft},
	}}
	agent := &fakeAgent{}
	logs := &syncBuffer{}
	cfg := Config{
		Store: store, State: store.state, Members: members, Agent: agent,
		Version: "1.2.3", NodeName: "node-a",
		Logger:       slog.New(slog.NewJSONHandler(logs, nil)),
		MaxBodyBytes: 1024,
		Now:          clock.Now,
		Topics:       newFakeTopics(16 << 10),
		GameServers:  fakeGameServers{},
		JoinTokens:   fakeJoinTokens{},
		UGC:          fakeUGC{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, srv: srv, h: srv.Handler(), store: store, clock: clock,
		agent: agent, members: members, token: token, tokenID: id, logs: logs}
}

// do sends a request with the operator token.
func (h *harness) do(method, target, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.doWith(method, target, body, "Bearer "+h.token)
}

// doWith sends a request with the given Authorization header ("" for
// none).
func (h *harness) doWith(method, target, body, authz string) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// mustDo sends a request and fails unless the status is want.
func (h *harness) mustDo(method, target, body string, want int) *httptest.ResponseRecorder {
	h.t.Helper()
	rec := h.do(method, target, body)
	if rec.Code != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, target, rec.Code, want, rec.Body)
	}
	return rec
}

// createTenant and createProject set up state through the API.
func (h *harness) createTenant(name string) {
	h.t.Helper()
	h.mustDo("POST", "/v1/tenants", `{"name":"`+name+`"}`, http.StatusCreated)
}

func (h *harness) createProject(tenant, name string) {
	h.t.Helper()
	h.mustDo("POST", "/v1/tenants/"+tenant+"/projects", `{"name":"`+name+`"}`, http.StatusCreated)
}

// decodeBody unmarshals a JSON response body into T.
func decodeBody[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, rec.Body)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// wantError checks that rec is a JSON error with the given status and code.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) errorDetail {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	body := decodeBody[errorBody](t, rec)
	if body.Error.Code != code {
		t.Fatalf("error code %q, want %q (message %q)", body.Error.Code, code, body.Error.Message)
	}
	if body.Error.Message == "" {
		t.Fatalf("error without a message")
	}
	return body.Error
}
