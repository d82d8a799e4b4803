package gameserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/api"
	"github.com/cassandranet/cassnet/mesh"
)

// askTimeout bounds how long a cluster-wide list waits for one member.
const askTimeout = time.Second

// List implements api.GameServers: this node's servers of tenant and,
// unless local, every other alive member's, asked in parallel over their
// REST API (GET .../servers?scope=local) with the caller's credential.
// Members that fail or time out are named in Unreachable.
func (s *Server) List(ctx context.Context, cred, tenant string, local bool) api.GameServerList {
	out := api.GameServerList{Servers: s.reg.list(func(in Info) bool { return in.Tenant == tenant }, s.healthy)}
	if local || s.members == nil {
		return out
	}
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
