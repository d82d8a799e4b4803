package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/state/ugc"
)

// Bounds of the item query string.
const (
	maxUGCQueryString = 4 << 10
	maxUGCTextQuery   = 256
)

// ParseUGCQuery parses the query string of GET .../ugc/items into a
// search (without tenant, project and the caller's visibility rule).
// Unknown parameters are refused, so a typo is a 400 rather than a silent
// match-everything.
func ParseUGCQuery(raw string) (ugc.Query, error) {
	var q ugc.Query
	if len(raw) > maxUGCQueryString {
		return q, badRequest("the query string must be at most %d bytes", maxUGCQueryString)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, badRequest("the query string is malformed")
	}
	one := func(k string) (string, error) {
		v := vals[k]
		if len(v) > 1 {
			return "", badRequest("%s: give it at most once", k)
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	for k, v := range vals {
		switch k {
		case "tag":
			if len(v) > ugc.MaxTags {
				return q, badRequest("tag: at most %d", ugc.MaxTags)
			}
			for _, t := range v {
				if err := ugc.ValidateTag(t); err != nil {
					return q, err
				}
				q.Tags = append(q.Tags, t)
			}
		case "q", "owner", "state", "visibility", "sort", "limit", "cursor", "stale", "consistent", "default":
			if _, err := one(k); err != nil {
				return q, err
			}
		default:
			return q, badRequest("unknown query parameter %q", truncate(k, 32))
		}
	}
	text, _ := one("q")
	if len(text) > maxUGCTextQuery {
		return q, badRequest("q: at most %d bytes", maxUGCTextQuery)
	}
	if err := consensus.ValidateText("q", text, maxUGCTextQuery); err != nil {
		return q, err
	}
	q.Words = ugc.QueryWords(text)
	if q.Owner, _ = one("owner"); q.Owner != "" {
		if err := ugc.ValidateOwner(q.Owner); err != nil {
			return q, err
		}
	}
	q.State, _ = one("state")
	switch q.State {
	case "", ugc.StateDraft, ugc.StatePending, ugc.StateApproved, ugc.StateRejected, ugc.StateHidden:
	default:
		return q, badRequest("state: must be draft, pending, approved, rejected or hidden")
	}
	if q.Visibility, _ = one("visibility"); q.Visibility != "" {
		if err := ugc.ValidateVisibility(q.Visibility); err != nil {
			return q, err
		}
	}
	q.Sort, _ = one("sort")
	switch q.Sort {
	case "", ugc.SortRecent, ugc.SortDownloads:
	default:
		return q, badRequest("sort: must be recent or downloads")
	}
	if l, _ := one("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > ugc.MaxQueryLimit {
			return q, badRequest("limit: must be between 1 and %d", ugc.MaxQueryLimit)
		}
		q.Limit = n
	}
	q.Cursor, _ = one("cursor")
	if len(q.Cursor) > 512 {
		return q, badRequest("cursor: malformed")
	}
	return q, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ugcPage is the answer of GET .../ugc/items.
type ugcPage struct {
	Items      []ugcItemView `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// handleListUGCItems searches the project's items on this node's replica,
// through the index every node derives from the replicated state.
func (s *Server) handleListUGCItems(w http.ResponseWriter, r *http.Request, p Principal) {
	if !s.prepareRead(w, r, consensus.Default, false) {
		return
	}
	tenant, project, err := s.ugcProject(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := ParseUGCQuery(r.URL.RawQuery)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.Tenant, q.Project, q.Visible = tenant, project, p.ugcListed
	page, err := s.state.UGC.Search(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := ugcPage{Items: make([]ugcItemView, 0, len(page.Items)), NextCursor: page.Next}
	for _, it := range page.Items {
		out.Items = append(out.Items, ugcItemJSON(it))
	}
	writeJSON(w, http.StatusOK, out)
}
