package pluginsdk

import "encoding/json"

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
