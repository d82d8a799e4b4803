package bans

import (
	"testing"
	"time"
	"unsafe"
)

// TestPackedKeepsEveryField: a packed ban equals its source field by
// field, shares no pointer with it, keeps empty strings empty, and holds
// its strings in one allocation (each begins where the one before ends).
func TestPackedKeepsEveryField(t *testing.T) {
	exp, rev := time.Date(2027, 1, 2, 3, 4, 5, 6, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src := Ban{ID: "ban_1", Tenant: "acme", PlayerID: "p<script>", Reason: "ünïcode reason", CreatedBy: "operator:x",
		CreatedAt: rev, ExpiresAt: &exp, RevokedAt: &rev, RevokedBy: "key:y"}
	b := packed(src)
	if b.ID != src.ID || b.Tenant != src.Tenant || b.ProjectID != "" || b.PlayerID != src.PlayerID || b.Reason != src.Reason ||
		b.CreatedBy != src.CreatedBy || b.RevokedBy != src.RevokedBy || !b.CreatedAt.Equal(src.CreatedAt) ||
		!b.ExpiresAt.Equal(exp) || !b.RevokedAt.Equal(rev) {
		t.Fatalf("packed %+v from %+v", b, src)
	}
	if b.ExpiresAt == src.ExpiresAt || b.RevokedAt == src.RevokedAt {
		t.Fatal("the packed ban shares a time with its source")
	}
	exp = exp.Add(time.Hour)
	if b.ExpiresAt.Equal(exp) {
		t.Fatal("changing the source's expiry changed the packed ban")
	}
	// ProjectID is empty and skipped: the strings after it follow on.
	in := []string{b.ID, b.Tenant, b.PlayerID, b.Reason, b.CreatedBy, b.RevokedBy}
	for i := 1; i < len(in); i++ {
		if unsafe.StringData(in[i]) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(in[i-1])), len(in[i-1]))) {
			t.Fatalf("string %d (%q) is not packed after %q", i, in[i], in[i-1])
		}
	}
	if p := packed(Ban{ID: "x"}); p.ExpiresAt != nil || p.RevokedAt != nil || p.Tenant != "" {
		t.Fatalf("a ban without times or tenant packed to %+v", p)
	}
}

// TestKeysOfMatchesTheTables: the packed keys are the keys the tables are
// read with.
func TestKeysOfMatchesTheTables(t *testing.T) {
	b := packed(Ban{ID: "ban_1", Tenant: "acme", PlayerID: "p1", CreatedAt: time.Unix(5, 0).UTC()})
	k := keysOf(b)
	if k.id != "acme\x00ban_1" || k.player != "acme\x00p1" || k.order != orderKey(b) {
		t.Fatalf("keys %q", k)
	}
}
