package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/state/tenancy"
	"github.com/cassandranet/cassnet/state/ugc"
)

// FuzzUGCQuery: the item query parser and the search never panic, and
// whatever they refuse is a 400.
func FuzzUGCQuery(f *testing.F) {
	for _, s := range []string{"", "tag=a&tag=b&q=hello+world", "sort=downloads&limit=5&cursor=ZAAAAAAAAAAA",
		"q=%ff%fe", "tag=", "owner=p1&state=approved&visibility=public", "cursor=cgAAAAAAAAAAaXRt", "limit=-1", "a=b&a=c", "q=" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	st := ugc.New(tenancy.New())
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseUGCQuery(raw)
		if err != nil {
			if ae, ok := toAPIError(err); !ok || ae.status != 400 {
				t.Fatalf("%q: %v is not a 400", raw, err)
			}
			return
		}
		q.Tenant, q.Project = "acme", "game"
		if _, err := st.Search(q); err != nil {
			var ae *apiError
			if ae2, ok := toAPIError(err); !ok || ae2.status != 400 || errors.As(err, &ae) {
				t.Fatalf("%q: search: %v", raw, err)
			}
		}
	})
}

// FuzzDecodeUGCItem: the item decoder never panics, refuses with a 4xx,
// and what it accepts passes the state machine's own validation.
func FuzzDecodeUGCItem(f *testing.F) {
	for _, s := range []string{`{"title":"a"}`, `{"title":"a","tags":["X","y"],"metadata":{"k":"v"},"visibility":"private"}`,
		`{"title":"a","tags":["a","a"]}`, `{"title":"\u0000"}`, `{}`, `[]`, `{"title":"a"} x`, `{"metadata":{"":""}}`} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, create bool) {
		req, err := DecodeUGCItem(data, create)
		if err != nil {
			if ae, ok := toAPIError(err); !ok || ae.status < 400 || ae.status > 499 {
				t.Fatalf("%q: %v is not a 4xx", data, err)
			}
			return
		}
		var tags []string
		if req.Tags != nil {
			tags = *req.Tags
		}
		var meta map[string]string
		if req.Metadata != nil {
			meta = *req.Metadata
		}
		if err := ugc.ValidateItemFields(deref(req.Title), deref(req.Description), tags, meta); err != nil {
			t.Fatalf("accepted %q, which the state refuses: %v", data, err)
		}
		if create && (req.Title == nil || *req.Title == "" || req.Visibility == nil) {
			t.Fatalf("accepted a create without title or visibility: %q", data)
		}
	})
}
