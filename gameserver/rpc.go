package gameserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"maps"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/api"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// project resolves a request's project for p the way REST does: empty
// means the key's project; a project the key cannot see is NotFound.
func project(p api.Principal, requested string) (string, error) {
	if requested == "" {
		requested = p.Project
	}
	if !p.CanSee(p.Tenant, requested) {
		return "", status.Errorf(codes.NotFound, "project %q not found", requested)
	}
	return requested, nil
}

// withServer runs fn on the caller's server id, under the registry lock.
// A server of another tenant or project is NotFound.
func (s *Server) withServer(ctx context.Context, id string, fn func(e *entry) error) error {
	p := principal(ctx)
	if p.Server != "" && id != p.Server {
		return errNoServer(id) // a fleet server's key acts only as that server
	}
	var err error
	found := s.reg.with(p.Tenant, id, func(e *entry) {
		if !p.CanSee(e.info.Tenant, e.info.ProjectID) {
			err = errNoServer(id)
			return
		}
		err = fn(e)
	})
	if !found {
		return errNoServer(id)
	}
	return err
}

func errNoServer(id string) error { return status.Errorf(codes.NotFound, "server %q not found", id) }

func checkID(field, v string) error {
	if v == "" || len(v) > maxIDLen {
		return status.Errorf(codes.InvalidArgument, "%s: must be 1 to %d bytes", field, maxIDLen)
	}
	return nil
}

// Register implements GameServerService.
func (s *Server) Register(ctx context.Context, req *cassnetv1.RegisterRequest) (*cassnetv1.RegisterResponse, error) {
	p := principal(ctx)
	if err := checkID("server_id", req.GetServerId()); err != nil {
		return nil, err
	}
	if p.Server != "" && req.GetServerId() != p.Server {
		return nil, status.Errorf(codes.PermissionDenied, "this credential registers only server %q", p.Server)
	}
	if len(req.GetLabels()) > maxLabels || len(req.GetPorts()) > maxLabels {
		return nil, status.Errorf(codes.InvalidArgument, "at most %d labels and %d ports", maxLabels, maxLabels)
	}
	proj, err := project(p, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	var sid [8]byte
	if _, err := rand.Read(sid[:]); err != nil {
		return nil, status.Errorf(codes.Internal, "session id: %v", err)
	}
	now := time.Now().UTC()
	info := Info{
		ID: req.GetServerId(), Tenant: p.Tenant, ProjectID: proj, Node: s.node,
		SessionID: hex.EncodeToString(sid[:]), Address: req.GetAddress(),
		Ports: maps.Clone(req.GetPorts()), Labels: maps.Clone(req.GetLabels()),
		Capacity: req.GetCapacity(), RegisteredAt: now, UpdatedAt: now,
	}
	if s.store != nil {
		if err := servers.ValidateID("server_id", info.ID); err != nil {
			return nil, proposalStatus(err)
		}
	}
	if !s.reg.put(info) {
		return nil, status.Errorf(codes.ResourceExhausted, "this node holds its maximum of %d game servers", s.reg.max)
	}
	if err := s.lifecycle(ctx, p.Tenant, info.ID, registerCmd(info, servers.StateStarting), nil); err != nil {
		s.reg.remove(p.Tenant, info.ID)
		return nil, err
	}
	s.log.Info("game server registered", "tenant", p.Tenant, "server", info.ID, "project", proj)
	return &cassnetv1.RegisterResponse{Session: &cassnetv1.ServerSession{
		ServerId: info.ID, SessionId: info.SessionID, TenantId: p.Tenant, ProjectId: proj,
		Node: s.node, RegisteredUnixMs: now.UnixMilli(), HealthIntervalMs: uint32(s.interval.Milliseconds()),
	}}, nil
}

// Ready implements GameServerService.
func (s *Server) Ready(ctx context.Context, req *cassnetv1.ReadyRequest) (*cassnetv1.ServerAck, error) {
	return s.SetState(ctx, &cassnetv1.SetStateRequest{ServerId: req.GetServerId(), State: cassnetv1.ServerState_SERVER_STATE_READY})
}

// SetState implements GameServerService and replicates the change:
// starting re-records the server, ready returns it to the pool (also
// after a match), allocated is a self-allocation (as Allocate), draining
// takes it out of the pool, and shutdown removes the record and
// unregisters it here. Reserved and unhealthy are set by Reserve and by
// the node.
func (s *Server) SetState(ctx context.Context, req *cassnetv1.SetStateRequest) (*cassnetv1.ServerAck, error) {
	st := req.GetState()
	switch st {
	case cassnetv1.ServerState_SERVER_STATE_STARTING, cassnetv1.ServerState_SERVER_STATE_READY,
		cassnetv1.ServerState_SERVER_STATE_DRAINING, cassnetv1.ServerState_SERVER_STATE_SHUTDOWN:
	case cassnetv1.ServerState_SERVER_STATE_ALLOCATED:
		if _, err := s.Allocate(ctx, &cassnetv1.AllocateRequest{ServerId: req.GetServerId()}); err != nil {
			return nil, err
		}
		return &cassnetv1.ServerAck{}, nil
	default:
		return nil, status.Error(codes.InvalidArgument, "state: must be starting, ready, allocated, draining or shutdown")
	}
	p := principal(ctx)
	var info Info
	var announced string
	var watched bool
	if err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		info, announced, watched = e.info, e.announced, len(e.events) > 0
		return nil
	}); err != nil {
		return nil, err
	}
	if !watched && s.records != nil {
		// A game server that watches no events learned of its match
		// elsewhere (from the matchmaker's players): its Ready ends the
		// allocation the record holds now. With a WatchEvents stream it
		// ends only what it was told of.
		if rec, ok := s.records.Server(p.Tenant, info.ID); ok {
			announced = rec.AllocationID
		}
	}
	cmd := stateCmd(p.Tenant, info.ID, stateName(st), 0, "")
	if st == cassnetv1.ServerState_SERVER_STATE_READY {
		// Ready ends the match the game server was told of, and no other.
		cmd = readyCmd(p.Tenant, info.ID, announced)
	}
	if st == cassnetv1.ServerState_SERVER_STATE_STARTING {
		cmd = registerCmd(info, servers.StateStarting)
	}
	err := s.lifecycle(ctx, p.Tenant, info.ID, cmd, func(e *entry) {
		e.setState(st)
		if st == cassnetv1.ServerState_SERVER_STATE_READY {
			e.ending = announced
		}
	})
	if st == cassnetv1.ServerState_SERVER_STATE_SHUTDOWN {
		s.reg.remove(p.Tenant, req.GetServerId())
		return &cassnetv1.ServerAck{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &cassnetv1.ServerAck{}, nil
}

// setState records a lifecycle state in the registry. Called with the
// registry lock held.
func (e *entry) setState(st cassnetv1.ServerState) {
	e.state, e.info.State, e.info.UpdatedAt = st, stateName(st), time.Now().UTC()
}

// Health implements GameServerService: every ping refreshes the server's
// health; Healthy turns false three intervals after the last one.
func (s *Server) Health(stream cassnetv1.GameServerService_HealthServer) error {
	ctx := stream.Context()
	pings := make(chan *cassnetv1.HealthPing)
	errc := make(chan error, 1)
	go func() { // ends when the handler returns: the stream's ctx ends
		for {
			ping, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case pings <- ping:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return status.Error(codes.Unavailable, "the node is stopping")
		case err := <-errc:
			if err == io.EOF {
				return stream.SendAndClose(&cassnetv1.ServerAck{})
			}
			return err
		case ping := <-pings:
			now := time.Now().UTC()
			restore := false
			if err := s.withServer(ctx, ping.GetServerId(), func(e *entry) error {
				restore = s.pinged(e, now)
				return nil
			}); err != nil {
				return err
			}
			if restore && s.store != nil {
				s.log.Info("game server pings again", "server", ping.GetServerId())
				s.reconcile(ctx, &key{principal(ctx).Tenant, ping.GetServerId()})
			}
		}
	}
}

// VerifySession implements GameServerService with REST's verification.
func (s *Server) VerifySession(ctx context.Context, req *cassnetv1.VerifySessionRequest) (*cassnetv1.VerifySessionResponse, error) {
	if req.GetToken() == "" {
		return nil, status.Error(codes.InvalidArgument, "token: is required")
	}
	return verifyAnswer(s.auth.VerifySession(principal(ctx), req.GetToken())), nil
}

func verifyAnswer(r api.VerifyResult) *cassnetv1.VerifySessionResponse {
	out := &cassnetv1.VerifySessionResponse{Valid: r.Valid, Reason: r.Reason, PlayerId: r.PlayerID,
		TenantId: r.TenantID, ProjectId: r.ProjectID, SessionId: r.SessionID}
	if r.ExpiresAt != nil {
		out.ExpiresUnixMs = r.ExpiresAt.UnixMilli()
	}
	return out
}

// IsBanned implements GameServerService from this node's replica.
func (s *Server) IsBanned(ctx context.Context, req *cassnetv1.IsBannedRequest) (*cassnetv1.IsBannedResponse, error) {
	p := principal(ctx)
	if err := checkID("player_id", req.GetPlayerId()); err != nil {
		return nil, err
	}
	proj, err := project(p, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	b, banned := s.bans.ActiveBan(p.Tenant, req.GetPlayerId(), proj, s.auth.Now())
	if !banned {
		return &cassnetv1.IsBannedResponse{}, nil
	}
	return &cassnetv1.IsBannedResponse{Banned: true, BanId: b.ID, Reason: b.Reason, ExpiresUnixMs: unixMs(b.ExpiresAt)}, nil
}

func unixMs(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMilli()
}

// PlayerConnect implements GameServerService: the player is recorded only
// if the session verifies, and belongs to the server's project if it has
// one. The answer says why not otherwise.
func (s *Server) PlayerConnect(ctx context.Context, req *cassnetv1.PlayerConnectRequest) (*cassnetv1.VerifySessionResponse, error) {
	if req.GetToken() == "" {
		return nil, status.Error(codes.InvalidArgument, "token: is required")
	}
	res := s.auth.VerifySession(principal(ctx), req.GetToken())
	err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		if !res.Valid {
			return nil
		}
		if e.info.ProjectID != "" && res.ProjectID != e.info.ProjectID {
			res = api.VerifyResult{Reason: "invalid"}
			return nil
		}
		if _, ok := e.players[res.PlayerID]; !ok && len(e.players) >= MaxPlayersPerServer {
			return status.Errorf(codes.ResourceExhausted, "at most %d players per server", MaxPlayersPerServer)
		}
		e.players[res.PlayerID] = conn{token: req.GetToken(), project: res.ProjectID}
		e.info.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return verifyAnswer(res), nil
}

// PlayerDisconnect implements GameServerService.
func (s *Server) PlayerDisconnect(ctx context.Context, req *cassnetv1.PlayerDisconnectRequest) (*cassnetv1.ServerAck, error) {
	err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		delete(e.players, req.GetPlayerId())
		e.info.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &cassnetv1.ServerAck{}, nil
}

// ReportMetric implements GameServerService. Names are Prometheus-safe
// ([a-z_][a-z0-9_]*, at most 64 bytes); each server reports at most
// MaxMetricsPerServer of them.
func (s *Server) ReportMetric(ctx context.Context, req *cassnetv1.ReportMetricRequest) (*cassnetv1.ServerAck, error) {
	name := req.GetName()
	if !validMetricName(name) {
		return nil, status.Error(codes.InvalidArgument, "name: must match ^[a-z_][a-z0-9_]*$ and be at most 64 bytes")
	}
	if len(req.GetLabels()) > maxLabels {
		return nil, status.Errorf(codes.InvalidArgument, "labels: at most %d", maxLabels)
	}
	err := s.withServer(ctx, req.GetServerId(), func(e *entry) error {
		if _, ok := e.info.Metrics[name]; !ok && len(e.info.Metrics) >= MaxMetricsPerServer {
			return status.Errorf(codes.ResourceExhausted, "at most %d metric names per server", MaxMetricsPerServer)
		}
		if e.info.Metrics == nil {
			e.info.Metrics = make(map[string]float64)
		}
		e.info.Metrics[name] = req.GetValue()
		e.labels[name] = maps.Clone(req.GetLabels())
		e.info.UpdatedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		return nil, err // a gRPC status: wrapping would hide its code
	}
	return &cassnetv1.ServerAck{}, nil
}

func validMetricName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
