package pluginsdk

import (
	"encoding/json"
	"strconv"
)

// ScoreAllocation is the hook that orders (or filters) the candidate
// servers of an allocation. Its request is a ScoreRequest; a handler
// answers Allow (the node's default choice) or Prefer.
const ScoreAllocation = "score_allocation"

// Candidate is a server an allocation could get, as the node's replica
// saw it.
type Candidate struct {
	ID       string            `json:"id"`
	Project  string            `json:"project_id,omitempty"`
	Fleet    string            `json:"fleet,omitempty"`
	Node     string            `json:"node"`
	State    string            `json:"state"`
	Labels   map[string]string `json:"labels,omitempty"`
	Players  uint32            `json:"players"`
	Capacity uint32            `json:"capacity"`
}

// ScoreRequest is the request of score_allocation: the allocation
// request, as JSON, and at most 64 candidates in the node's default
// order (best first).
type ScoreRequest struct {
	Allocation json.RawMessage `json:"allocation"`
	Candidates []Candidate     `json:"candidates"`
	Only       bool            `json:"only"`
}

// Prefer answers score_allocation with candidates in order of preference
// (best first). With only, the allocation may get none of the servers
// left out (a filter), and fails with no_capacity if none of those given
// is still free; without it, the node falls back to its default choice.
// The preference is advisory: the state machine re-checks every server.
func Prefer(req ScoreRequest, candidates []Candidate, only bool) Result {
	req.Candidates, req.Only = candidates, only
	if req.Candidates == nil {
		req.Candidates = []Candidate{}
	}
	return Amend(req)
}

// Elements returns the raw elements of the JSON array arr (no copies), or
// false: with Get, what a hot score_allocation handler uses instead of
// encoding/json, which costs about 130 µs per candidate inside wasm
// (docs/benchmarks.md).
func Elements(arr []byte) ([][]byte, bool) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil, false
	}
	var out [][]byte
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return out, true
	}
	for i < len(arr) {
		j := skipValue(arr, i)
		if j < 0 {
			return nil, false
		}
		out = append(out, arr[i:j])
		i = skipSpace(arr, j)
		if i >= len(arr) {
			return nil, false
		}
		switch arr[i] {
		case ']':
			return out, true
		case ',':
			i = skipSpace(arr, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

// PreferRaw is Prefer without encoding/json: candidates are raw elements
// of the request's candidates array (from Elements), in order of
// preference; the allocation is passed through as it came.
func PreferRaw(req []byte, candidates [][]byte, only bool) Result {
	alloc, ok := Get(req, "allocation")
	if !ok {
		alloc = []byte("null")
	}
	n := len(alloc) + 48
	for _, c := range candidates {
		n += len(c) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"allocation":`...)
	b = append(b, alloc...)
	b = append(b, `,"candidates":[`...)
	for i, c := range candidates {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	b = append(b, `],"only":`...)
	b = strconv.AppendBool(b, only)
	b = append(b, '}')
	return AmendRaw(b)
}
