package gameserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/servers"
)

// Drain asks server id of tenant to drain: it is marked draining and its
// WatchEvents streams get a drain event. A server not registered on this
// node is looked for on the other alive members (unless local), asked
// over their REST API with the caller's credential. Drain reports whether
// some node had the server.
//
// With a consensus store the drain is replicated instead
// (SetServerState draining), wherever the server is: the node it talks to
// sees its record turn draining and sends the drain event (WatchEvents).
func (s *Server) Drain(ctx context.Context, cred, tenant, id string, local bool) bool {
	if s.records != nil {
		rec, ok := s.records.Server(tenant, id)
		if !ok || local && rec.Node != s.node {
			return false
		}
		if err := s.propose(ctx, s.actor(), stateCmd(tenant, id, servers.StateDraining, 0, "")); err != nil {
			s.log.Warn("drain a game server", "tenant", tenant, "server", id, "err", err)
			return false
		}
		s.reg.with(tenant, id, func(e *entry) {
			e.state, e.info.State, e.touched = cassnetv1.ServerState_SERVER_STATE_DRAINING, "draining", time.Now()
		})
		s.log.Info("game server asked to drain", "tenant", tenant, "server", id, "node", rec.Node)
		return true
	}
	ev := &cassnetv1.ServerEvent{Event: &cassnetv1.ServerEvent_Drain_{Drain: &cassnetv1.ServerEvent_Drain{}}}
	if s.reg.with(tenant, id, func(e *entry) {
		e.state, e.info.State, e.info.UpdatedAt = cassnetv1.ServerState_SERVER_STATE_DRAINING, "draining", time.Now().UTC()
		e.broadcast(ev)
	}) {
		s.log.Info("game server asked to drain", "tenant", tenant, "server", id)
		return true
	}
	if local || s.members == nil {
		return false
	}
	var found atomic.Bool
	s.eachPeer(func(m mesh.Member) {
		if err := s.askDrain(ctx, m.HTTPAddr, cred, tenant, id); err == nil {
			found.Store(true)
		}
	})
	return found.Load()
}

// askDrain asks one member to drain the server if it holds it.
func (s *Server) askDrain(ctx context.Context, addr, cred, tenant, id string) error {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	u := s.scheme + "://" + addr + "/v1/tenants/" + url.PathEscape(tenant) + "/servers/" + url.PathEscape(id) + "/drain?scope=local"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s: %w", addr, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ask %s: status %d", addr, resp.StatusCode)
	}
	return nil
}
