package testnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestVerifyLoad: the verify phase's client sends the request net/http
// would (method, path, credential, JSON body), reuses its connection,
// reconnects after "Connection: close", and fails every answer that is
// not a 200 saying "valid":true.
func TestVerifyLoad(t *testing.T) {
	var answer atomic.Value // what the server says next
	answer.Store("valid")
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/sessions/verify" ||
			r.Header.Get("Authorization") != "Bearer cred" || r.Header.Get("Content-Type") != "application/json" ||
			string(body) != `{"token":"h.p.s"}` {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		switch answer.Load() {
		case "valid":
			_, _ = io.WriteString(w, `{"valid":true,"reason":"ok"}`+"\n")
		case "close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, `{"valid":true,"reason":"ok"}`+"\n")
		case "revoked":
			_, _ = io.WriteString(w, `{"valid":false,"reason":"revoked"}`+"\n")
		case "error":
			http.Error(w, `{"valid":true}`, http.StatusServiceUnavailable)
		case "long":
			_, _ = io.WriteString(w, `{"valid":true,"pad":"`+strings.Repeat("x", 2000)+`"}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	l, err := newVerifyLoad(strings.TrimPrefix(srv.URL, "http://"), "cred", "h.p.s", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	ctx := context.Background()
	for i := range 3 {
		if err := l.verify(ctx, 0, i); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 requests, want 1 (keep-alive)", n)
	}
	answer.Store("long")
	if err := l.verify(ctx, 0, 3); err != nil {
		t.Fatalf("a long answer: %v", err)
	}
	answer.Store("close")
	for i := range 2 {
		if err := l.verify(ctx, 0, 4+i); err != nil {
			t.Fatalf("after Connection: close: %v", err)
		}
	}
	answer.Store("valid")
	if err := l.verify(ctx, 0, 6); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (a new one after each close)", n)
	}
	for _, a := range []string{"revoked", "error"} {
		answer.Store(a)
		var se *StatusError
		if err := l.verify(ctx, 0, 9); !errors.As(err, &se) {
			t.Fatalf("answer %q: error %v, want a StatusError", a, err)
		}
	}
	srv.Close()
	answer.Store("valid")
	if err := l.verify(ctx, 0, 10); err == nil || ErrorClass(err) != "connection" {
		t.Fatalf("server gone: %v (class %q), want a connection error", err, ErrorClass(err))
	}
}
