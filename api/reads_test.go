package api

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/tenancy"
)

func TestReadHeaders(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	for _, target := range []string{
		"/v1/tenants", "/v1/tenants/acme", "/v1/tenants/acme/projects",
		"/v1/tenants/acme/bans", "/v1/tenants/acme/audit",
		"/v1/tenants/acme/players/p1/ban", "/v1/cluster/settings",
	} {
		rec := h.mustDo("GET", target, "", http.StatusOK)
		if got, want := rec.Header().Get(headerIndex), strconv.FormatUint(h.store.fsm.Applied().Index(), 10); got != want {
			t.Errorf("%s: %s = %q, want %q", target, headerIndex, got, want)
		}
		if got := rec.Header().Get(headerKnownLeader); got != "true" {
			t.Errorf("%s: %s = %q", target, headerKnownLeader, got)
		}
		if got := rec.Header().Get(headerLastContact); got != "1500" {
			t.Errorf("%s: %s = %q", target, headerLastContact, got)
		}
	}
	// Read headers on a 404 too: the client learns how fresh the miss was.
	rec := h.do("GET", "/v1/tenants/nope", "")
	if rec.Code != http.StatusNotFound || rec.Header().Get(headerIndex) == "" {
		t.Errorf("404 read: %d, index %q", rec.Code, rec.Header().Get(headerIndex))
	}
}

func TestBlockingQueryWakesOnWrite(t *testing.T) {
	h := newHarness(t)
	idx := h.store.fsm.Applied().Index()
	done := make(chan *httptest.ResponseRecorder, 1)
	start := time.Now()
	go func() {
		done <- h.do("GET", "/v1/tenants?index="+strconv.FormatUint(idx, 10)+"&wait=30s", "")
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case rec := <-done:
		t.Fatalf("blocking query returned before any write: %d %s", rec.Code, rec.Body)
	default:
	}
	h.store.mustApply(&cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: "acme"}}})
	select {
	case rec := <-done:
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		list := decodeBody[struct{ Tenants []tenancy.Tenant }](t, rec)
		if len(list.Tenants) != 1 {
			t.Fatalf("woke without the new tenant: %s", rec.Body)
		}
		if got := rec.Header().Get(headerIndex); got != strconv.FormatUint(idx+1, 10) {
			t.Fatalf("index header %q, want %d", got, idx+1)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("blocking query did not wake early")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking query did not wake on a write")
	}
}

func TestBlockingQueryTimesOut(t *testing.T) {
	h := newHarness(t)
	idx := strconv.FormatUint(h.store.fsm.Applied().Index(), 10)
	for _, wait := range []string{"150ms", "0"} {
		start := time.Now()
		rec := h.mustDo("GET", "/v1/tenants?index="+idx+"&wait="+wait, "", http.StatusOK)
		el := time.Since(start)
		if wait == "150ms" && el < 150*time.Millisecond {
			t.Errorf("wait=%s returned after %v", wait, el)
		}
		if rec.Header().Get(headerIndex) != idx {
			t.Errorf("index header %q", rec.Header().Get(headerIndex))
		}
	}
	// An index already passed answers at once.
	start := time.Now()
	h.mustDo("GET", "/v1/tenants?index=0&wait=30s", "", http.StatusOK)
	if time.Since(start) > 5*time.Second {
		t.Error("index=0 blocked")
	}
}

func TestReadParamErrors(t *testing.T) {
	h := newHarness(t)
	h.createTenant("acme")
	for _, target := range []string{
		"/v1/tenants?stale&consistent",
		"/v1/tenants?stale&default",
		"/v1/tenants?index=x",
		"/v1/tenants?index=-1",
		"/v1/tenants?index=1&wait=soon",
		"/v1/tenants?index=1&wait=-5s",
		"/v1/tenants/acme/bans?index=1&wait=1x",
	} {
		wantError(t, h.do("GET", target, ""), http.StatusBadRequest, "invalid_argument")
	}
}

func TestParseWait(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"10s", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"45", 45 * time.Second, false},
		{"0", 0, false},
		{"1h", maxWait, false},
		{"100000000", maxWait, false},
		{"-1s", 0, true},
		{"", 0, true},
		{"ten", 0, true},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseWait(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestQueryValue(t *testing.T) {
	tests := []struct {
		raw, key, want string
		ok             bool
	}{
		{"stale", "stale", "", true},
		{"a=1&stale=&b=2", "stale", "", true},
		{"project_id=rocket", "project_id", "rocket", true},
		{"player_id=steam%3A42", "player_id", "steam:42", true},
		{"x=a+b", "x", "a b", true},
		{"proj%65ct_id=p", "project_id", "p", true},
		{"stalex=1", "stale", "", false},
		{"", "stale", "", false},
		{"a=1&a=2", "a", "1", true},
	}
	for _, tt := range tests {
		got, ok := queryValue(tt.raw, tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("queryValue(%q, %q) = %q, %v; want %q, %v", tt.raw, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}
