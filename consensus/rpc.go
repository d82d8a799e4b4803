package consensus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

// rpcServer implements the internal gRPC service that other nodes call.
type rpcServer struct {
	cassnetv1.UnimplementedInternalServer
	store *Store
}

func newRPCServer(s *Store) *grpc.Server {
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(12 << 20)) // an 8 MiB plugin module, forwarded
	cassnetv1.RegisterInternalServer(srv, &rpcServer{store: s})
	return srv
}

func (r *rpcServer) Apply(ctx context.Context, req *cassnetv1.ApplyRequest) (*cassnetv1.ApplyResponse, error) {
	cmd, err := DecodeCommand(req.GetCommand())
	if err != nil {
		return errorResponse(err), nil
	}
	idx, err := r.store.applyLocal(ctx, cmd)
	if err != nil {
		resp := errorResponse(err)
		resp.Index = idx
		return resp, nil
	}
	return &cassnetv1.ApplyResponse{Index: idx}, nil
}

func errorResponse(err error) *cassnetv1.ApplyResponse {
	var ce *Error
	if errors.As(err, &ce) {
		return &cassnetv1.ApplyResponse{ErrorCode: ce.Code, ErrorMessage: ce.Message}
	}
	return &cassnetv1.ApplyResponse{ErrorCode: ErrIndeterminate.Code, ErrorMessage: err.Error()}
}

func (r *rpcServer) ReadIndex(ctx context.Context, req *cassnetv1.ReadIndexRequest) (*cassnetv1.ReadIndexResponse, error) {
	idx, err := r.store.leaderReadIndex(ctx, req.GetConsistent())
	if err != nil {
		return nil, toStatus(err)
	}
	return &cassnetv1.ReadIndexResponse{Index: idx}, nil
}

func (r *rpcServer) Status(ctx context.Context, _ *cassnetv1.StatusRequest) (*cassnetv1.StatusResponse, error) {
	return r.store.localStatus(), nil
}

func (r *rpcServer) RemoveServer(ctx context.Context, req *cassnetv1.RemoveServerRequest) (*cassnetv1.RemoveServerResponse, error) {
	if !r.store.IsLeader() {
		return nil, toStatus(ErrNoLeader)
	}
	if err := r.store.removeServer(req.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &cassnetv1.RemoveServerResponse{}, nil
}

// localStatus reports this server's Raft progress.
func (s *Store) localStatus() *cassnetv1.StatusResponse {
	st := &cassnetv1.StatusResponse{
		Id:           s.cfg.NodeID,
		LastIndex:    s.raft.LastIndex(),
		AppliedIndex: s.raft.AppliedIndex(),
		Term:         s.raft.CurrentTerm(),
		State:        s.raft.State().String(),
		StateVersion: SupportedStateVersion,
	}
	if s.raft.State() != raft.Leader {
		st.LastContactMs = time.Since(s.raft.LastContact()).Milliseconds()
	}
	return st
}

// rpcClients keeps one gRPC connection per peer address.
type rpcClients struct {
	tag   []byte
	tls   *tls.Config // nil: plaintext
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newRPCClients(tag []byte, tlsConf *tls.Config) *rpcClients {
	return &rpcClients{tag: tag, tls: tlsConf, conns: make(map[string]*grpc.ClientConn)}
}

func (c *rpcClients) get(addr string) (cassnetv1.InternalClient, error) {
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	return cassnetv1.NewInternalClient(cc), nil
}

// ready returns a client whose connection to addr is established, or an
// error if it cannot be established before ctx ends. A call made on it
// failing afterwards may have reached the peer; a failure here means
// nothing was sent.
func (c *rpcClients) ready(ctx context.Context, addr string) (cassnetv1.InternalClient, error) {
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	cc.Connect()
	for {
		st := cc.GetState()
		if st == connectivity.Ready {
			return cassnetv1.NewInternalClient(cc), nil
		}
		if !cc.WaitForStateChange(ctx, st) {
			return nil, fmt.Errorf("connect to %s: %w (state %s)", addr, ctx.Err(), st)
		}
	}
}

func (c *rpcClients) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	dialer := func(ctx context.Context, target string) (net.Conn, error) {
		timeout := dialTimeout(ctx)
		return dialStream(target, streamRPC, c.tag, c.tls, timeout)
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dialer),
	)
	if err != nil {
		return nil, err
	}
	c.conns[addr] = cc
	return cc, nil
}

func (c *rpcClients) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, cc := range c.conns {
		_ = cc.Close()
		delete(c.conns, addr)
	}
}
