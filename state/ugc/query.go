package ugc

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/table"
)

// Sorts.
const (
	SortRecent    = "recent"
	SortDownloads = "downloads"
)

// Query bounds.
const (
	MaxQueryLimit     = 100
	DefaultQueryLimit = 20
	// maxScan bounds the postings one page looks at; a page that reaches
	// it ends early with a cursor, so a query that matches little never
	// walks a whole project in one request.
	maxScan = 4096
	// collectLimit is the largest candidate list a downloads-sorted query
	// sorts in memory; above it the query walks the downloads order.
	collectLimit = 5_000
)

// Query is an item search in one project.
type Query struct {
	Tenant, Project string
	// Tags and Words must all match (Words as tokenised by QueryWords).
	Tags, Words []string
	Owner       string
	State       string
	Visibility  string
	Sort        string
	Limit       int
	// Cursor is a previous page's Next; empty starts at the top.
	Cursor string
	// Visible, if set, says which items the caller may see listed.
	Visible func(it *Item) bool
}

// Page is one page of results. Next is empty after the last page.
type Page struct {
	Items []Item
	Next  string
}

// ErrBadCursor: the cursor is not one this sort made.
var errBadCursor = consensus.NewError(consensus.ErrInvalid, "cursor: malformed, or made for another sort")

// Search answers q from the committed state. Pagination is by cursor (the
// sort key and id of the last item answered), so a page never repeats or
// skips an item that existed throughout, however many are written
// between pages.
func (s *Store) Search(q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultQueryLimit
	}
	q.Limit = min(q.Limit, MaxQueryLimit)
	if q.Sort == "" {
		q.Sort = SortRecent
	}
	if q.Sort != SortRecent && q.Sort != SortDownloads {
		return Page{}, consensus.NewError(consensus.ErrInvalid, "sort: must be recent or downloads")
	}
	after, err := decodeCursor(q.Sort, q.Cursor)
	if err != nil {
		return Page{}, err
	}
	d := s.cur.Load()
	var lists []string
	for _, t := range q.Tags {
		lists = append(lists, listTag(t))
	}
	for _, w := range q.Words {
		lists = append(lists, listWord(w))
	}
	if q.Owner != "" {
		lists = append(lists, listOwner(q.Owner))
	}
	r := run{d: d, q: q, lists: lists, prefix: map[string]listInfo{}}
	for _, l := range append([]string{listAll, listDownloads}, lists...) {
		info, ok := d.lists.Get(table.Key(q.Tenant, q.Project, l))
		if !ok {
			return Page{}, nil // an empty project, or a filter no item matches
		}
		r.prefix[l] = info
	}
	// The smallest list drives; the others are membership checks.
	slices.SortFunc(lists, func(a, b string) int { return r.prefix[a].N - r.prefix[b].N })
	switch {
	case q.Sort == SortRecent && len(lists) == 0:
		return r.walk(listAll, after, 8), nil
	case q.Sort == SortRecent:
		return r.walk(lists[0], after, 8), nil
	case len(lists) == 0:
		return r.walk(listDownloads, after, 16), nil
	}
	if r.prefix[lists[0]].N <= collectLimit {
		return r.collect(after), nil
	}
	return r.walk(listDownloads, after, 16), nil
}

type run struct {
	d      *data
	q      Query
	lists  []string
	prefix map[string]listInfo // every list the query reads, by name
}

func (r *run) listPrefix(list string) string { return listKey(r.prefix[list].ID) }

// inLists checks that the item with recent key rk is posted to every
// list but skip: membership checks on the postings, before the item is
// even read.
func (r *run) inLists(rk, id, skip string) bool {
	for _, l := range r.lists {
		if l == skip {
			continue
		}
		if _, ok := r.d.postings.Get(r.listPrefix(l) + rk + id); !ok {
			return false
		}
	}
	return true
}

// match checks an item's fields and the caller's visibility rule.
func (r *run) match(it *Item) bool {
	q := r.q
	if q.State != "" && it.State != q.State || q.Visibility != "" && it.Visibility != q.Visibility ||
		q.Owner != "" && it.Owner != q.Owner {
		return false
	}
	return q.Visible == nil || q.Visible(it)
}

// walk pages through one list in its order, from after; sortLen is the
// length of the list's sort key.
func (r *run) walk(list, after string, sortLen int) Page {
	prefix := r.listPrefix(list)
	var page Page
	scanned := 0
	last := ""
	r.d.postings.WalkFrom(prefix, prefix+after, func(k string, _ struct{}) bool {
		key := k[len(prefix):]
		if key == after {
			return true
		}
		if scanned++; scanned > maxScan {
			page.Next = encodeCursor(r.q.Sort, last)
			return false
		}
		last = key
		id := key[sortLen:]
		if !r.inLists(key[sortLen-8:sortLen], id, list) { // the recent key ends every sort key
			return true
		}
		it, ok := r.d.items.Get(itemKey(r.q.Tenant, r.q.Project, id))
		if !ok || !r.match(it) {
			return true
		}
		if len(page.Items) == r.q.Limit {
			page.Next = encodeCursor(r.q.Sort, lastKey(page, r.q.Sort))
			return false
		}
		page.Items = append(page.Items, *it.clone())
		return true
	})
	return page
}

func lastKey(p Page, sort string) string {
	it := p.Items[len(p.Items)-1]
	if sort == SortDownloads {
		return downloadsKey(it.Downloads, it.CreatedAt) + it.ID
	}
	return recentKey(it.CreatedAt) + it.ID
}

// collect gathers a small driving list's matches and sorts them by
// downloads.
func (r *run) collect(after string) Page {
	prefix := r.listPrefix(r.lists[0])
	type cand struct {
		key string
		it  *Item
	}
	var all []cand
	r.d.postings.Walk(prefix, func(k string, _ struct{}) bool {
		key := k[len(prefix):]
		id := key[8:]
		if !r.inLists(key[:8], id, r.lists[0]) {
			return true
		}
		if it, ok := r.d.items.Get(itemKey(r.q.Tenant, r.q.Project, id)); ok && r.match(it) {
			if key := downloadsKey(it.Downloads, it.CreatedAt) + it.ID; key > after {
				all = append(all, cand{key, it})
			}
		}
		return true
	})
	slices.SortFunc(all, func(a, b cand) int { return strings.Compare(a.key, b.key) })
	var page Page
	for i, c := range all {
		if i == r.q.Limit {
			page.Next = encodeCursor(r.q.Sort, all[i-1].key)
			break
		}
		page.Items = append(page.Items, *c.it.clone())
	}
	return page
}

// A cursor is the sort's letter and the last key answered, base64url.
func encodeCursor(sort, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(sort[:1] + key))
}

func decodeCursor(sort, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	if len(c) > 512 {
		return "", errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) < 1 || raw[0] != sort[0] {
		return "", errBadCursor
	}
	key := string(raw[1:])
	n := 8
	if sort == SortDownloads {
		n = 16
	}
	if len(key) <= n || ValidateID("cursor", key[n:]) != nil {
		return "", errBadCursor
	}
	return key, nil
}
