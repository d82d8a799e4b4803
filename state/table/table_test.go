package table_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/state/table"
)

func TestTableIsImmutable(t *testing.T) {
	var empty table.Table[int]
	if _, ok := empty.Get("a"); ok || empty.Len() != 0 || empty.Values("") != nil {
		t.Fatal("zero Table is not empty")
	}
	x := empty.Txn()
	x.Put("b", 2)
	x.Put("a", 1)
	v1 := x.Commit()
	y := v1.Txn()
	y.Put("c", 3)
	if !y.Delete("a") || y.Delete("zz") {
		t.Fatal("Delete reports the wrong presence")
	}
	if got, ok := y.Get("c"); !ok || got != 3 {
		t.Fatal("a Txn does not read its own writes")
	}
	v2 := y.Commit()
	if got := v1.Values(""); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("committed version changed by a later Txn: %v", got)
	}
	if got := v2.Values(""); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("new version %v", got)
	}
	if empty.Len() != 0 {
		t.Fatal("the zero Table changed")
	}
}

func TestKeysAndPrefixes(t *testing.T) {
	x := table.Table[string]{}.Txn()
	for _, k := range [][]string{{"a", "bc"}, {"ab", "c"}, {"a", "b"}, {"a"}} {
		x.Put(table.Key(k...), table.Key(k...))
	}
	tb := x.Commit()
	// ("a","bc") and ("ab","c") never collide; Prefix("a") is a's keys only.
	if tb.Len() != 4 {
		t.Fatalf("Len = %d", tb.Len())
	}
	got := tb.Values(table.Prefix("a"))
	want := []string{table.Key("a", "b"), table.Key("a", "bc")}
	if !slices.Equal(got, want) {
		t.Fatalf("Values(Prefix(a)) = %q, want %q", got, want)
	}
	d := tb.Txn()
	d.DeletePrefix(table.Prefix("a"))
	if got := d.Commit().Values(""); !slices.Equal(got, []string{"a", table.Key("ab", "c")}) {
		t.Fatalf("after DeletePrefix(a): %q", got)
	}
}

func TestTimeKeyOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{time.Unix(-5, 0), time.Unix(0, 0), base, base.Add(time.Nanosecond), base.Add(time.Hour), base.AddDate(100, 0, 0)}
	for i := 1; i < len(times); i++ {
		a, b := table.TimeKey(times[i-1]), table.TimeKey(times[i])
		if a > b || (a == b && i > 1) {
			t.Errorf("TimeKey(%v) = %x not before TimeKey(%v) = %x", times[i-1], a, times[i], b)
		}
	}
	if table.TimeKey(base.In(time.FixedZone("x", 3600))) != table.TimeKey(base) {
		t.Fatal("TimeKey depends on the location")
	}
}

func TestExpiry(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var e table.Expiry
	if e.AnyDue(base.AddDate(1000, 0, 0)) {
		t.Fatal("the empty index has something due")
	}
	x := e.Txn()
	x.Add(base.Add(2*time.Hour), "c")
	x.Add(base, "a")
	x.Add(base.Add(time.Hour), "b")
	x.Add(base.Add(time.Hour), "b2")
	x.Remove(base.Add(3*time.Hour), "b") // no such entry: a no-op
	e = x.Commit()
	tests := []struct {
		at   time.Time
		any  bool
		want []string
	}{
		{base.Add(-time.Nanosecond), false, nil},
		{base, true, []string{"a"}},
		{base.Add(time.Hour), true, []string{"a", "b", "b2"}},
		{base.Add(90 * time.Minute), true, []string{"a", "b", "b2"}},
		{base.Add(5 * time.Hour), true, []string{"a", "b", "b2", "c"}},
	}
	for _, tt := range tests {
		if got := e.AnyDue(tt.at); got != tt.any {
			t.Errorf("AnyDue(%v) = %v", tt.at, got)
		}
		x := e.Txn()
		if got := x.Due(tt.at); !slices.Equal(got, tt.want) {
			t.Errorf("Due(%v) = %v, want %v", tt.at, got, tt.want)
		}
		if x.AnyDue(tt.at) {
			t.Errorf("after Due(%v) something is still due", tt.at)
		}
		if e.Len() != 4 {
			t.Fatal("Due on a Txn changed the committed index")
		}
	}
	y := e.Txn()
	y.Remove(base, "a")
	if got := y.Due(base.Add(time.Hour)); !slices.Equal(got, []string{"b", "b2"}) {
		t.Errorf("after Remove(a): Due = %v", got)
	}
}
