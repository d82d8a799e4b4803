package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/hooks"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// scoreRequest is what the score_allocation hook sees: the allocation
// request (after before_allocation) and the servers this node's replica
// says it could get, in the default order. A hook that amends answers the
// same object with the candidates reordered (most preferred first) or
// dropped, and only set to refuse every server it dropped.
type scoreRequest struct {
	Allocation allocateRequest     `json:"allocation"`
	Candidates []servers.Candidate `json:"candidates"`
	Only       bool                `json:"only"`
}

// scoreAnswer is the part of an amended scoreRequest the node reads: the
// ids, in order, and the flag. Everything else a plugin returns is
// ignored; it cannot change the request this way.
type scoreAnswer struct {
	Candidates []struct {
		ID string `json:"id"`
	} `json:"candidates"`
	Only bool `json:"only"`
}

// scoreAllocation runs the score_allocation hook, when a tenant's add-on
// implements it, and writes its preference into op. The preference is
// advisory: Apply takes the first preferred server still eligible in its
// entry, so a stale replica or a racing allocation never hands out a
// server twice. A failing fail_open plugin is skipped (the default
// choice); any other failure refuses the request, as for every
// before-hook.
func (s *Server) scoreAllocation(ctx context.Context, caller hooks.Caller, req allocateRequest, op *cassnetv1.Allocate) error {
	if _, ok := s.hooks.(hooks.Noop); ok {
		return nil
	}
	if im, ok := s.hooks.(hooks.Implementer); ok && !im.Implements(ctx, caller.Tenant, hooks.ScoreAllocation) {
		return nil
	}
	cands := s.state.Servers.Candidates(op, servers.MaxPreferred)
	if len(cands) == 0 {
		return nil // nothing to order here; Apply decides (this replica may be behind)
	}
	body, err := json.Marshal(scoreRequest{Allocation: req, Candidates: cands})
	if err != nil {
		return err
	}
	out, err := s.hooks.Before(ctx, hooks.ScoreAllocation, caller, body)
	if err != nil {
		return hookError(ctx, err)
	}
	if bytes.Equal(out, body) {
		return nil // allowed unchanged: the default choice
	}
	ids, only, err := preferredIDs(cands, out)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		if only {
			return consensus.NewError(servers.ErrNoCapacity, "an add-on filtered out every candidate server")
		}
		return nil
	}
	op.PreferredServerIds, op.PreferredOnly = ids, only
	return servers.ValidateAllocate(op)
}

// preferredIDs reads a score_allocation answer: the ids of the offered
// candidates in the plugin's order (ids not offered, and repeats,
// dropped; at most MaxPreferred) and the only flag. A plugin's answer is
// as hostile as a client's body.
func preferredIDs(offered []servers.Candidate, out []byte) ([]string, bool, error) {
	var ans scoreAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		return nil, false, errorf(http.StatusBadGateway, codePluginFailed, "a plugin answered score_allocation with JSON this route cannot read")
	}
	left := make(map[string]bool, len(offered))
	for _, c := range offered {
		left[c.ID] = true
	}
	var ids []string
	for _, c := range ans.Candidates {
		if left[c.ID] && len(ids) < servers.MaxPreferred {
			left[c.ID] = false
			ids = append(ids, c.ID)
		}
	}
	return ids, ans.Only, nil
}
