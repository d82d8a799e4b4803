package gameserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/state/servers"
)

// askTimeout bounds how long a fan-out list or drain waits for one member.
const askTimeout = time.Second

// List implements api.GameServers. With a consensus store it answers
// from this node's replica of the servers domain, with no request to
// other nodes: the lifecycle of every server in the cluster, completed
// for this node's own servers with what only it knows (session, players,
// metrics, health pings), plus this node's servers whose record is not
// replicated yet. Without a store (unit tests) it is the fan-out of old:
// this node's registry and, unless local, every alive member's, asked
// over REST with cred; members that fail are named in Unreachable.
func (s *Server) List(ctx context.Context, cred, tenant string, local bool) api.GameServerList {
	mine := s.reg.list(func(in Info) bool { return in.Tenant == tenant }, s.healthy)
	if s.records == nil {
		return s.fanOut(ctx, cred, tenant, local, mine)
	}
	byID := make(map[string]Info, len(mine))
	for _, in := range mine {
		byID[in.ID] = in
	}
	node := ""
	if local {
		node = s.node
	}
	var out api.GameServerList
	for _, rec := range s.records.Servers(tenant, servers.Filter{Node: node}) {
		in, ok := byID[rec.ID]
		if ok && rec.Node == s.node {
			delete(byID, rec.ID)
		} else {
			in = Info{ID: rec.ID, Tenant: rec.Tenant, Players: []string{}, Healthy: rec.State != servers.StateUnhealthy && rec.State != servers.StateLost,
				RegisteredAt: rec.CreatedAt, PlayerCount: int(rec.Players)}
		}
		in.ProjectID, in.Fleet, in.Node, in.Address = rec.Project, rec.Fleet, rec.Node, rec.Address
		in.Ports, in.Labels, in.Capacity, in.State = rec.Ports, rec.Labels, rec.Capacity, rec.State
		in.AllocationID, in.Annotations, in.ReservedUntil = rec.AllocationID, rec.Annotations, rec.ReservedUntil
		in.UpdatedAt, in.Replicated = rec.UpdatedAt, true
		out.Servers = append(out.Servers, in)
	}
	for _, in := range byID { // not replicated yet (or not any more)
		out.Servers = append(out.Servers, in)
	}
	slices.SortFunc(out.Servers, func(a, b Info) int { return compare(a.ID, b.ID) })
	return out
}

// fanOut is List without a replicated state.
func (s *Server) fanOut(ctx context.Context, cred, tenant string, local bool, mine []Info) api.GameServerList {
	out := api.GameServerList{Servers: mine}
	if !local && s.members != nil {
		var mu sync.Mutex
		s.eachPeer(func(m mesh.Member) {
			list, err := s.ask(ctx, m.HTTPAddr, cred, tenant)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Debug("game servers: member did not answer", "member", m.Name, "err", err)
				out.Unreachable = append(out.Unreachable, m.Name)
				return
			}
			out.Servers = append(out.Servers, list...)
		})
	}
	return out
}

// eachPeer runs fn for every other alive member with a REST address, in
// parallel, and returns when every call has.
func (s *Server) eachPeer(fn func(mesh.Member)) {
	var wg sync.WaitGroup
	for _, m := range s.members.Members() {
		if m.Status != mesh.StatusAlive || m.Name == s.node || m.HTTPAddr == "" {
			continue
		}
		wg.Go(func() { fn(m) }) // owned here: eachPeer waits for it
	}
	wg.Wait()
}

// ask fetches one member's servers of tenant.
func (s *Server) ask(ctx context.Context, addr, cred, tenant string) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	u := s.scheme + "://" + addr + "/v1/tenants/" + url.PathEscape(tenant) + "/servers?scope=local"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("ask %s: status %d", addr, resp.StatusCode)
	}
	var list api.GameServerList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("decode %s: %w", addr, err)
	}
	return list.Servers, nil
}
