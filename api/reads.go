package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/consensus"
)

// Read response headers.
const (
	headerIndex       = "X-Cass-Index"
	headerKnownLeader = "X-Cass-Known-Leader"
	headerLastContact = "X-Cass-Last-Contact"
)

// Blocking query limits.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
)

// readOpts is what a read request asks for.
type readOpts struct {
	mode     consensus.Consistency
	blocking bool   // ?index was given
	index    uint64 // wait until the state's index is past this
	wait     time.Duration
}

// parseRead reads ?stale, ?consistent and ?default (by presence; at most
// one), and, if blocking is allowed on the route, ?index and ?wait.
func parseRead(r *http.Request, def consensus.Consistency, blocking bool) (readOpts, error) {
	o := readOpts{mode: def}
	raw := r.URL.RawQuery
	n := 0
	for _, m := range [...]struct {
		key  string
		mode consensus.Consistency
	}{{"stale", consensus.Stale}, {"consistent", consensus.Consistent}, {"default", consensus.Default}} {
		if _, ok := queryValue(raw, m.key); ok {
			o.mode = m.mode
			n++
		}
	}
	if n > 1 {
		return o, badRequest("at most one of ?stale, ?consistent and ?default may be given")
	}
	if !blocking {
		return o, nil
	}
	idx, ok := queryValue(raw, "index")
	if !ok {
		return o, nil
	}
	v, err := strconv.ParseUint(idx, 10, 64)
	if err != nil {
		return o, badRequest("index: must be a non-negative integer")
	}
	o.blocking, o.index, o.wait = true, v, defaultWait
	if ws, ok := queryValue(raw, "wait"); ok {
		d, err := parseWait(ws)
		if err != nil {
			return o, err
		}
		o.wait = d
	}
	return o, nil
}

// parseWait accepts a Go duration ("10s", "1m30s") or whole seconds
// ("10"), and caps it at maxWait.
func parseWait(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, err2 := strconv.ParseUint(s, 10, 32)
		if err2 != nil {
			return 0, badRequest("wait: must be a duration such as 10s or a number of seconds")
		}
		d = time.Duration(secs) * time.Second
	}
	if d < 0 {
		return 0, badRequest("wait: must not be negative")
	}
	return min(d, maxWait), nil
}

// read prepares a read of Store.State() as o asks: it holds a blocking
// query until the index moves or the wait ends (a timeout is not an
// error), then calls Store.Read at the requested consistency and sets the
// X-Cass-* headers. After it returns nil, the handler reads State().
func (s *Server) read(ctx context.Context, w http.ResponseWriter, o readOpts) error {
	if o.blocking {
		wctx, cancel := context.WithTimeout(ctx, o.wait)
		err := s.store.Applied().WaitChange(wctx, o.index)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err() // the client went away
		}
	}
	meta, err := s.store.Read(ctx, o.mode)
	if err != nil {
		return err
	}
	s.setReadHeaders(w, meta)
	return nil
}

// setReadHeaders reports the freshness of a read.
func (s *Server) setReadHeaders(w http.ResponseWriter, m consensus.ReadMeta) {
	h := w.Header()
	h[headerIndex] = s.indexMemo.value(m.Index)
	if m.KnownLeader {
		h[headerKnownLeader] = headerTrue
	} else {
		h[headerKnownLeader] = headerFalse
	}
	if ms := m.LastContact.Milliseconds(); ms == 0 {
		h[headerLastContact] = headerZero
	} else {
		h.Set(headerLastContact, strconv.FormatInt(ms, 10))
	}
}

// indexMemo memoises the X-Cass-Index value of the last index a read
// answered: under read load the applied index moves far less often than
// reads are answered, and formatting it afresh cost every read two
// allocations (the string and its one-element slice). Like the shared
// values in respond.go, the slice is never written in place. Any value it
// holds is correct for its index; safe for concurrent use.
type indexMemo struct{ last atomic.Pointer[indexHeader] }

type indexHeader struct {
	index uint64
	value []string
}

// value is the header value of index, shared while index is the last one
// asked for.
func (m *indexMemo) value(index uint64) []string {
	if c := m.last.Load(); c != nil && c.index == index {
		return c.value
	}
	c := &indexHeader{index: index, value: []string{strconv.FormatUint(index, 10)}}
	m.last.Store(c)
	return c.value
}

// queryValue finds key in a raw query string without building a
// url.Values map, which keeps the ban check allocation-light. ok reports
// presence ("?stale" and "?stale=" are both present). Values are
// unescaped only when they need it.
func queryValue(raw, key string) (value string, ok bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return v, true
			}
			v = uv
		}
		return v, true
	}
	return "", false
}
