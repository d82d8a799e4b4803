package bans

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptime(t time.Time) *time.Time { return &t }

// sameBan compares two bans field by field, times by instant.
func sameBan(t *testing.T, got, want Ban) {
	t.Helper()
	optEqual := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	if !got.CreatedAt.Equal(want.CreatedAt) || !optEqual(got.ExpiresAt, want.ExpiresAt) || !optEqual(got.RevokedAt, want.RevokedAt) {
		t.Fatalf("times: got %v %v %v, want %v %v %v", got.CreatedAt, got.ExpiresAt, got.RevokedAt, want.CreatedAt, want.ExpiresAt, want.RevokedAt)
	}
	got.CreatedAt, got.ExpiresAt, got.RevokedAt = time.Time{}, nil, nil
	want.CreatedAt, want.ExpiresAt, want.RevokedAt = time.Time{}, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	epoch := time.Date(2026, 12, 3, 18, 0, 0, 123456789, time.UTC)
	cases := map[string]Ban{
		"permanent": {ID: "ban_1", Tenant: "acme", PlayerID: "steam:42", Reason: "cheating", CreatedBy: "operator:1", CreatedAt: epoch},
		"expiring project ban": {ID: "b", Tenant: "t", ProjectID: "shooter", PlayerID: "p", CreatedBy: "o",
			CreatedAt: epoch, ExpiresAt: ptime(epoch.Add(time.Hour))},
		"revoked": {ID: "b", Tenant: "t", PlayerID: "p", CreatedAt: epoch, RevokedAt: ptime(epoch.Add(time.Second)), RevokedBy: "operator:2"},
		"expiring and revoked": {ID: "b", Tenant: "t", PlayerID: "p", CreatedAt: epoch,
			ExpiresAt: ptime(epoch.Add(time.Hour)), RevokedAt: ptime(epoch.Add(time.Minute)), RevokedBy: "r"},
		"before 1970 and empty strings": {CreatedAt: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
		"long reason, unicode":          {ID: "b", Tenant: "t", PlayerID: "p", Reason: strings.Repeat("é<script>", 50), CreatedAt: epoch},
		"far future":                    {ID: "b", CreatedAt: epoch, ExpiresAt: ptime(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			rec := encode(&b)
			v := rec.decode()
			sameBan(t, v.ban(), b)
			if (v.head.hasExpires) != (b.ExpiresAt != nil) || v.activeAt(epoch) != b.ActiveAt(epoch) {
				t.Fatalf("head disagrees with the ban: %+v", v.head)
			}
			// Ended: at the revocation if it came first, else at the expiry.
			want := b.ExpiresAt
			if b.RevokedAt != nil && (want == nil || b.RevokedAt.Before(*want)) {
				want = b.RevokedAt
			}
			if end, ok := v.endedAt(); ok != (want != nil) || ok && !end.Equal(*want) {
				t.Fatalf("endedAt = %v, %v; want %v", end, ok, want)
			}
		})
	}
}

// TestRecordListSplits checks that concatenated records (a player's list)
// come apart into the same bans, in order, and that a truncated list does
// not decode.
func TestRecordListSplits(t *testing.T) {
	epoch := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	var want []Ban
	var list string
	for i, reason := range []string{"a", strings.Repeat("x", 300), ""} {
		b := Ban{ID: string(rune('a' + i)), Tenant: "t", PlayerID: "p", Reason: reason, CreatedAt: epoch.Add(time.Duration(i))}
		want = append(want, b)
		list += string(encode(&b))
	}
	var got []Ban
	each(list, func(_ record, v view) { got = append(got, v.ban()) })
	if len(got) != len(want) {
		t.Fatalf("%d bans, want %d", len(got), len(want))
	}
	for i := range want {
		sameBan(t, got[i], want[i])
	}
	for cut := 1; cut < len(list); cut++ {
		rs, n := list[:cut], 0
		for rs != "" {
			_, rest, ok := next(rs)
			if !ok {
				break
			}
			rs, n = rest, n+1
		}
		if rs == "" && !isBoundary(list, cut) {
			t.Fatalf("a list cut at %d decoded whole into %d bans", cut, n)
		}
	}
}

// isBoundary reports whether cut falls between two records of list.
func isBoundary(list string, cut int) bool {
	at := 0
	for list[at:] != "" {
		_, rest, _ := next(list[at:])
		at = len(list) - len(rest)
		if at == cut {
			return true
		}
	}
	return false
}

// FuzzRecordRoundTrip: any ban survives encode and decode.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("ban_1", "acme", "", "steam:42", "cheating", "operator:1", "", int64(1764806400), uint32(5), int64(3600), int64(-1))
	f.Add("", "", "p", "", "", "", "r", int64(-1<<40), uint32(999999999), int64(-5), int64(7))
	f.Fuzz(func(t *testing.T, id, tenant, project, player, reason, by, revokedBy string, sec int64, nsec uint32, expires, revoked int64) {
		b := Ban{ID: id, Tenant: tenant, ProjectID: project, PlayerID: player, Reason: reason, CreatedBy: by, RevokedBy: revokedBy,
			CreatedAt: time.Unix(sec, int64(nsec%1e9)).UTC()}
		if expires >= 0 {
			b.ExpiresAt = ptime(b.CreatedAt.Add(time.Duration(expires)))
		}
		if revoked >= 0 {
			b.RevokedAt = ptime(b.CreatedAt.Add(time.Duration(revoked)))
		}
		rec := encode(&b)
		v := rec.decode()
		sameBan(t, v.ban(), b)
		if _, rest, ok := next(string(rec) + string(rec)); !ok || rest != string(rec) {
			t.Fatalf("two records did not split: ok %v, rest %q", ok, rest)
		}
	})
}

// FuzzRecordDecode: decoding arbitrary bytes never panics or overruns,
// and what decodes re-encodes to a record that decodes the same.
func FuzzRecordDecode(f *testing.F) {
	b := Ban{ID: "b", Tenant: "t", PlayerID: "p", CreatedAt: time.Unix(1, 2).UTC(), ExpiresAt: ptime(time.Unix(3, 4).UTC())}
	f.Add([]byte(encode(&b)))
	f.Add([]byte{0x01, 0x00})
	f.Add([]byte{0x05, 0x03, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, rest, ok := next(string(data))
		if !ok {
			return
		}
		if len(rest) >= len(data) {
			t.Fatalf("rest %d bytes of %d", len(rest), len(data))
		}
		again := v.ban()
		w := encode(&again).decode()
		sameBan(t, w.ban(), again)
	})
}

// The hash and snapshot order is tenant, CreatedAt, then ID (compare).
// sorted breaks CreatedAt ties on an 8-byte ID prefix first: IDs that
// share it, are shorter than it or differ only past it must still come
// out in full-ID order.
func TestSortedOrder(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 0, 0, 500, time.UTC)
	ids := []string{"ban-12345", "ban-1234", "ban-123", "ban-1234a", "ban-1234", "zz", "ban-12340", "a", "ban-1234b"}
	for i := range 300 { // enough for the sort to partition, not insert
		ids = append(ids, fmt.Sprintf("ban-1234x%d", i*7919%1000))
	}
	s := &Store{}
	w := s.begin(&data{})
	for i, id := range ids {
		created := at
		if i%4 == 3 {
			created = at.Add(-time.Nanosecond) // one earlier, ahead of the ties
		}
		for _, tenant := range []string{"beta", "acme"} {
			if id == "ban-1234" && i == 4 {
				id = "ban-1234~" // the duplicate becomes a distinct ID sharing the prefix
			}
			w.add(&Ban{ID: id, Tenant: tenant, PlayerID: "p" + id, CreatedBy: "o", CreatedAt: created})
		}
	}
	w.Commit()
	got := section{s.cur.Load()}.sorted()
	views := make([]view, len(got))
	for i, rec := range got {
		views[i] = rec.decode()
	}
	if len(views) != 2*len(ids) {
		t.Fatalf("sorted %d records, want %d", len(views), 2*len(ids))
	}
	for i := 1; i < len(views); i++ {
		a, b := &views[i-1], &views[i]
		if c := cmp.Or(cmp.Compare(a.tenant, b.tenant), compare(a, b)); c >= 0 {
			t.Errorf("record %d (%s %v %s) does not sort before record %d (%s %v %s)", i-1, a.tenant, a.created, a.id, i, b.tenant, b.created, b.id)
		}
	}
}
