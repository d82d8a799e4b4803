package main

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

func TestBanCache(t *testing.T) {
	c := &client{}
	future := time.Now().Add(time.Hour).UnixMilli()
	past := time.Now().Add(-time.Minute).UnixMilli()
	c.setBans([]*cassnetv1.ActiveBan{
		{PlayerId: "perma", ExpiresUnixMs: future}, {PlayerId: "perma"}, // permanent wins
		{PlayerId: "temp", ExpiresUnixMs: past}, {PlayerId: "temp", ExpiresUnixMs: future},
		{PlayerId: "gone", ExpiresUnixMs: past},
	})
	c.linkUp.Store(true)
	for player, want := range map[string]bool{"perma": true, "temp": true, "gone": false, "nobody": false} {
		if got, st := c.isBanned(player); got != want || st != stOK {
			t.Errorf("isBanned(%s) = %v %d, want %v", player, got, st, want)
		}
	}
	c.linkUp.Store(false)
	if got, st := c.isBanned("perma"); !got || st != stStale || c.lastError() == "" {
		t.Errorf("link down: %v %d %q", got, st, c.lastError())
	}
}

func TestStatusMapping(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                       stOK,
		status.Error(codes.Unauthenticated, ""):   stUnauthenticated,
		status.Error(codes.PermissionDenied, ""):  stPermissionDenied,
		status.Error(codes.NotFound, ""):          stNotFound,
		status.Error(codes.Unavailable, ""):       stUnavailable,
		status.Error(codes.ResourceExhausted, ""): stTooLarge,
		status.Error(codes.Internal, ""):          stInternal,
	} {
		if got := codeStatus(err); got != want {
			t.Errorf("codeStatus(%v) = %d, want %d", err, got, want)
		}
	}
	for reason, want := range map[string]int{"ok": stOK, "expired": stSessionExpired, "revoked": stSessionRevoked,
		"banned": stBanned, "invalid": stSessionInvalid, "": stSessionInvalid} {
		if got := reasonStatus(reason); got != want {
			t.Errorf("reasonStatus(%q) = %d, want %d", reason, got, want)
		}
	}
}

func TestHandleTable(t *testing.T) {
	tab := handleTable{m: map[uint64]*client{}}
	c := &client{}
	h := tab.add(c)
	if h == 0 || tab.get(h) != c || tab.get(h+1) != nil {
		t.Fatalf("handle %d", h)
	}
	if tab.take(h) != c || tab.get(h) != nil || tab.take(h) != nil {
		t.Fatal("take did not invalidate the handle")
	}
}
