package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// apply stamps cmd with the envelope version and the principal, proposes
// it through Store.Apply, and waits until the local state has applied it,
// so the handler can read its own write. The leader stamps the time.
//
// A context error from Apply is reported as indeterminate: the command
// may have been proposed before the caller gave up.
func (s *Server) apply(ctx context.Context, p Principal, cmd *cassnetv1.Command) (uint64, error) {
	cmd.Version = consensus.CommandVersion
	cmd.Actor = p.Actor()
	start := time.Now()
	idx, err := s.store.Apply(ctx, cmd)
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		err = &consensus.Error{Code: consensus.ErrIndeterminate.Code, Message: err.Error()}
	}
	s.metrics.observeApply(time.Since(start), err)
	if err != nil {
		return 0, err
	}
	// Store.Apply promises this already; waiting is cheap insurance that a
	// write is never answered with a read that misses it.
	if err := s.store.Applied().WaitIndex(ctx, idx); err != nil {
		return idx, &consensus.Error{Code: consensus.ErrIndeterminate.Code, Message: err.Error()}
	}
	return idx, nil
}

// applyOutcomes bounds the outcome label: codes outside this set (which
// could arrive from a newer leader) are counted as "error".
var applyOutcomes = []*consensus.Error{
	consensus.ErrNotFound, consensus.ErrConflict, consensus.ErrInvalid,
	consensus.ErrNoLeader, consensus.ErrIndeterminate, consensus.ErrShuttingDown, consensus.ErrStateVersion,
}

// outcome is the cassnet_raft_apply_duration_seconds label for err.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	for _, e := range applyOutcomes {
		if errors.Is(err, e) {
			return e.Code
		}
	}
	return "error"
}

// setIndexHeader reports the Raft index a write was applied at, so a
// client can follow up with a blocking query or a read at that index.
func setIndexHeader(w http.ResponseWriter, idx uint64) {
	w.Header().Set(headerIndex, strconv.FormatUint(idx, 10))
}
