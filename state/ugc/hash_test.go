package ugc_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/ugc"
)

// perturb changes v, a field of a stored record, to another value.
func perturb(t *testing.T, v reflect.Value) {
	t.Helper()
	switch x := v.Addr().Interface().(type) {
	case *string:
		*x += "x"
	case *uint64:
		*x++
	case *uint32:
		*x++
	case *int64:
		*x++
	case *bool:
		*x = !*x
	case *[]string:
		*x = append(slices.Clone(*x), "x")
	case *map[string]string:
		m := map[string]string{"x": "y"}
		for k, v := range *x {
			m[k] = v
		}
		*x = m
	case *time.Time:
		*x = x.Add(time.Nanosecond)
	case **time.Time:
		if *x == nil {
			*x = &testEpoch
		} else {
			*x = nil
		}
	default:
		t.Fatalf("perturb: no rule for %s", v.Type())
	}
}

func hashCovers[T any](t *testing.T, edit func(e *env, fn func(*T))) {
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		t.Run(typ.Name()+"."+typ.Field(i).Name, func(t *testing.T) {
			e := newEnv(t)
			e.mustApply(op(&cassnetv1.PutUGCSettings{Tenant: "acme", Project: "game", AllowedContentTypes: []string{"application/zip"}}),
				item("a", "p1", "title", "map"), e.version("a", "v1", sha1, 10), publish("a", "v1", "n1"),
				op(&cassnetv1.ReportUGCItem{Tenant: "acme", Project: "game", Item: "a", Id: "r1", Reporter: "x", Reason: "y"}))
			before := e.freshHash()
			edit(e, func(rec *T) { perturb(t, reflect.ValueOf(rec).Elem().Field(i)) })
			if e.freshHash() == before {
				t.Fatalf("changing %s.%s does not change the state hash", typ.Name(), typ.Field(i).Name)
			}
		})
	}
}

// TestHashCoversEveryField: a field added to a record without a line in
// the hash encoder fails here.
func TestHashCoversEveryField(t *testing.T) {
	hashCovers(t, func(e *env, fn func(*ugc.Item)) { ugc.EditFirst(e.u, fn, nil, nil, nil, nil) })
	hashCovers(t, func(e *env, fn func(*ugc.Version)) { ugc.EditFirst(e.u, nil, fn, nil, nil, nil) })
	hashCovers(t, func(e *env, fn func(*ugc.Settings)) { ugc.EditFirst(e.u, nil, nil, fn, nil, nil) })
	hashCovers(t, func(e *env, fn func(*ugc.Blob)) { ugc.EditFirst(e.u, nil, nil, nil, fn, nil) })
	hashCovers(t, func(e *env, fn func(*ugc.Report)) { ugc.EditFirst(e.u, nil, nil, nil, nil, fn) })
}
