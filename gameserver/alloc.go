package gameserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// newAllocationID is a fresh self-allocation id: "alloc-" and 16 hex
// digits, in the syntax servers.ValidateID accepts.
func newAllocationID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", status.Errorf(codes.Internal, "allocation id: %v", err)
	}
	return "alloc-" + hex.EncodeToString(b[:]), nil
}

// Allocate implements GameServerService: self-allocation. The server
// moves to allocated under a fresh allocation id (SetServerState
// allocated), from ready, starting or reserved; the Allocated event
// follows on WatchEvents as for any allocation. Unlike lifecycle changes,
// it fails (Unavailable) when it cannot be replicated now: an allocation
// id must never be handed out unrecorded.
func (s *Server) Allocate(ctx context.Context, req *cassnetv1.AllocateRequest) (*cassnetv1.AllocateResponse, error) {
	p := principal(ctx)
	if err := s.withServer(ctx, req.GetServerId(), func(*entry) error { return nil }); err != nil {
		return nil, err
	}
	id, err := newAllocationID()
	if err != nil {
		return nil, err
	}
	mu := s.propLock(p.Tenant, req.GetServerId())
	if mu == nil {
		return nil, errNoServer(req.GetServerId())
	}
	mu.Lock()
	defer mu.Unlock()
	if s.store != nil {
		if err := s.propose(ctx, p.Actor(), stateCmd(p.Tenant, req.GetServerId(), servers.StateAllocated, 0, id)); err != nil {
			return nil, proposalStatus(err)
		}
	}
	s.reg.with(p.Tenant, req.GetServerId(), func(e *entry) {
		e.touched = time.Now()
		e.setState(cassnetv1.ServerState_SERVER_STATE_ALLOCATED)
	})
	return &cassnetv1.AllocateResponse{AllocationId: id}, nil
}

// Reserve implements GameServerService: the server is kept out of
// allocation for req.Seconds (1 s to 24 h), then returns to ready.
func (s *Server) Reserve(ctx context.Context, req *cassnetv1.ReserveRequest) (*cassnetv1.ServerAck, error) {
	p := principal(ctx)
	secs := req.GetSeconds()
	if secs == 0 || time.Duration(secs)*time.Second > servers.MaxReserve {
		return nil, status.Errorf(codes.InvalidArgument, "seconds: must be between 1 and %d", int(servers.MaxReserve.Seconds()))
	}
	if err := s.withServer(ctx, req.GetServerId(), func(*entry) error { return nil }); err != nil {
		return nil, err
	}
	cmd := stateCmd(p.Tenant, req.GetServerId(), servers.StateReserved, secs, "")
	if err := s.lifecycle(ctx, p.Tenant, req.GetServerId(), cmd, func(e *entry) {
		e.reserved = time.Now().Add(time.Duration(secs) * time.Second)
		e.setState(cassnetv1.ServerState_SERVER_STATE_RESERVED)
	}); err != nil {
		return nil, err
	}
	return &cassnetv1.ServerAck{}, nil
}

// SetLabel implements GameServerService: one label of the server, set or
// removed in the replicated record (SetServerLabels), so allocation
// selectors see it, and in the registry here. Keys and values follow
// Kubernetes label syntax.
func (s *Server) SetLabel(ctx context.Context, req *cassnetv1.SetLabelRequest) (*cassnetv1.ServerAck, error) {
	p := principal(ctx)
	k, v := req.GetKey(), req.GetValue()
	if err := servers.ValidateLabels("label", map[string]string{k: v}); err != nil {
		return nil, proposalStatus(err)
	}
	if err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		if _, ok := e.info.Labels[k]; !ok && !req.GetRemove() && len(e.info.Labels) >= servers.MaxLabels {
			return status.Errorf(codes.ResourceExhausted, "at most %d labels", servers.MaxLabels)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	op := &cassnetv1.SetServerLabels{Tenant: p.Tenant, Id: req.GetServerId(), Set: map[string]string{k: v}}
	if req.GetRemove() {
		op = &cassnetv1.SetServerLabels{Tenant: p.Tenant, Id: req.GetServerId(), Remove: []string{k}}
	}
	cmd := &cassnetv1.Command{Op: &cassnetv1.Command_SetServerLabels{SetServerLabels: op}}
	if err := s.lifecycle(ctx, p.Tenant, req.GetServerId(), cmd, func(e *entry) {
		e.info.Labels = maps.Clone(e.info.Labels)
		if e.info.Labels == nil {
			e.info.Labels = map[string]string{}
		}
		if req.GetRemove() {
			delete(e.info.Labels, k)
		} else {
			e.info.Labels[k] = v
		}
		e.info.UpdatedAt = time.Now().UTC()
	}); err != nil {
		return nil, err
	}
	return &cassnetv1.ServerAck{}, nil
}
