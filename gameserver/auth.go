package gameserver

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cassandranet/cassnet/api"
)

type principalKey struct{}

// principal is the caller that the interceptor authenticated.
func principal(ctx context.Context) api.Principal {
	p, _ := ctx.Value(principalKey{}).(api.Principal)
	return p
}

// authenticate reads the credential from "authorization: Bearer ..." or
// "x-api-key" metadata (the REST headers, parsed by the same function) and
// admits tenant API keys of a game-server role.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	cred, ok := api.ParseCredential(first("authorization"), first("x-api-key"))
	if !ok {
		return nil, status.Error(codes.Unauthenticated, `an "authorization: Bearer <key>" or "x-api-key" metadata entry is required`)
	}
	p, err := s.auth.Authenticate(cred)
	if err != nil {
		if errors.Is(err, api.ErrUnauthenticated) {
			return nil, status.Error(codes.Unauthenticated, "the credential is invalid")
		}
		return nil, status.Errorf(codes.Internal, "authenticate: %v", err)
	}
	if !p.GameServer() {
		return nil, status.Error(codes.PermissionDenied, "a tenant API key of role game-server is required")
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context())
	if err != nil {
		return err
	}
	return h(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

// authedStream carries the authenticated context into a stream handler.
type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }
