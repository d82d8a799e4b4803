package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeAPI answers like the REST API and records the last request.
type fakeAPI struct {
	method, path, auth string
	body               map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.method, f.path, f.auth = r.Method, r.URL.RequestURI(), r.Header.Get("Authorization")
	f.body = nil
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &f.body)
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/tenants/ghost"):
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"tenant \"ghost\" not found"}}`)
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/bans"):
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"ban_1","player_id":"p1","reason":"wall\u001b[2Jhack\nx","expires_at":null,"created_by":"operator:x"}`)
	case r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/servers"):
		io.WriteString(w, `{"servers":[{"id":"gs-1","state":"ready","healthy":true,"player_count":3,"capacity":16,"node":"n2","address":"10.0.0.2:7777","labels":{"map":"<b>dust</b>","region":"eu"}}],"unreachable":[]}`)
	case r.Method == "DELETE":
		w.WriteHeader(http.StatusNoContent)
	default:
		io.WriteString(w, `{"tenants":[{"name":"studio","created_at":"2026-12-01T08:00:00Z","created_by":"operator:x"}]}`)
	}
}

func run(t *testing.T, srv *httptest.Server, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("CASS_HTTP_ADDR", addr)
	err := Run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestEveryVerbHelpShowsAnExample(t *testing.T) {
	for _, n := range nouns {
		for _, v := range n.verbs {
			var out, errOut bytes.Buffer
			if err := Run(context.Background(), []string{n.name, v.name, "--help"}, &out, &errOut); err != nil {
				t.Errorf("%s %s --help: %v", n.name, v.name, err)
			}
			help := errOut.String()
			if !strings.Contains(help, "Example:\n  cassnet "+n.name+" "+v.name) {
				t.Errorf("%s %s --help has no example of itself:\n%s", n.name, v.name, help)
			}
		}
		var errOut bytes.Buffer
		_ = Run(context.Background(), []string{n.name, "--help"}, io.Discard, &errOut)
		if !strings.Contains(errOut.String(), "e.g. cassnet "+n.name) {
			t.Errorf("%s --help lists no examples", n.name)
		}
	}
}

func TestVerbsCallTheAPI(t *testing.T) {
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("CASS_TOKEN", "cnop_env")
	cases := []struct {
		args         []string
		method, path string
		body         string // JSON, "" for none
		out          string // a substring of stdout
	}{
		{[]string{"tenants", "list"}, "GET", "/v1/tenants", "", "studio"},
		{[]string{"tenants", "create", "studio"}, "POST", "/v1/tenants", `{"name":"studio"}`, "NAME"},
		{[]string{"tenants", "delete", "old co"}, "DELETE", "/v1/tenants/old%20co", "", "deleted tenant old co"},
		{[]string{"bans", "create", "--tenant", "studio", "--player", "p1", "--reason", "aimbot", "--duration", "24h"}, "POST", "/v1/tenants/studio/bans",
			`{"player_id":"p1","reason":"aimbot","duration_seconds":86400}`, "ban_1"},
		{[]string{"bans", "list", "--tenant", "studio", "--active", "--player", "p 1"}, "GET", "/v1/tenants/studio/bans?active=true&player_id=p+1", "", "PLAYER"},
		{[]string{"bans", "revoke", "ban_1", "--tenant", "studio"}, "DELETE", "/v1/tenants/studio/bans/ban_1", "", "ID"},
		{[]string{"bans", "check", "--tenant", "studio", "p1"}, "GET", "/v1/tenants/studio/players/p1/ban?", "", "BANNED"},
		{[]string{"keys", "create", "--tenant", "studio", "--name", "fleet", "--role", "game-server", "--ttl", "1h"}, "POST", "/v1/tenants/studio/keys",
			`{"name":"fleet","role":"game-server","ttl_seconds":3600}`, "KEY (shown once)"},
		{[]string{"operator-tokens", "revoke", "abc"}, "DELETE", "/v1/auth/operator-tokens/abc", "", "revoked operator token abc"},
		{[]string{"servers", "drain", "gs-1", "--tenant", "studio"}, "POST", "/v1/tenants/studio/servers/gs-1/drain", `{}`, "drain requested"},
		{[]string{"members", "list"}, "GET", "/v1/members", "", "RAFT"},
		{[]string{"projects", "list", "--tenant", "studio"}, "GET", "/v1/tenants/studio/projects", "", "NAME"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, _, err := run(t, srv, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if api.method != tc.method || api.path != tc.path || api.auth != "Bearer cnop_env" {
				t.Fatalf("sent %s %s (%s), want %s %s", api.method, api.path, api.auth, tc.method, tc.path)
			}
			if tc.body != "" {
				var want map[string]any
				_ = json.Unmarshal([]byte(tc.body), &want)
				if got, _ := json.Marshal(api.body); string(got) != mustJSON(want) {
					t.Fatalf("body %s, want %s", got, tc.body)
				}
			}
			if !strings.Contains(out, tc.out) {
				t.Fatalf("output does not contain %q:\n%s", tc.out, out)
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestTablesEscapeHostileText(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	out, _, err := run(t, srv, "bans", "create", "--token", "cnop_x", "--tenant", "s", "--player", "p1", "--reason", "r")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out, "\x1b") || !strings.Contains(out, `wall\x1b[2Jhack\x0ax`) {
		t.Fatalf("control characters reached the terminal: %q", out)
	}
	out, _, err = run(t, srv, "servers", "list", "--token", "cnop_x", "--tenant", "s")
	if err != nil || !strings.Contains(out, "map=<b>dust</b>,region=eu") || !strings.Contains(out, "yes") {
		t.Fatalf("servers table: %v\n%s", err, out)
	}
}

func TestJSONOutput(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	out, _, err := run(t, srv, "tenants", "list", "--json", "--token", "cnop_x")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Tenants []struct{ Name string } }
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Tenants) != 1 || v.Tenants[0].Name != "studio" {
		t.Fatalf("--json printed %q (%v)", out, err)
	}
}

func TestErrorsCarryTheAPIMessage(t *testing.T) {
	srv := httptest.NewServer(&fakeAPI{})
	defer srv.Close()
	_, _, err := run(t, srv, "bans", "list", "--tenant", "ghost", "--token", "cnop_x")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(err.Error(), `tenant "ghost" not found`) || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("error %v", err)
	}
	for _, args := range [][]string{
		{"bans", "create", "--tenant", "s", "--token", "x", "--player", "p"}, // no --reason
		{"tenants", "create", "--token", "x"},                                // no NAME
		{"tenants", "frobnicate"},
		{"nouns"},
	} {
		if _, _, err := run(t, srv, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	t.Setenv("CASS_TOKEN", "")
	if _, _, err := run(t, srv, "tenants", "list"); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("no credential: %v", err)
	}
}
