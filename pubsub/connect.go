package pubsub

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Connection upkeep. mesh.Changes has a single consumer (consensus's
// autopilot), so pubsub polls Members instead: every connectEvery it
// rebuilds the peer table, dials members it is not connected to and
// protects their connections, and unprotects and closes peers that are no
// longer members.
const (
	connectEvery   = time.Second
	dialTimeout    = 5 * time.Second
	protectTag     = "cassnet-member"
	memberAddrsTTL = time.Hour
)

func (s *Service) connectLoop(ctx context.Context) {
	t := time.NewTicker(connectEvery)
	defer t.Stop()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcile makes the libp2p connections match the membership once.
func (s *Service) reconcile(ctx context.Context) {
	tbl := s.peers.refresh()
	cm, nw := s.host.ConnManager(), s.host.Network()
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid := range s.protected {
		if _, ok := tbl.byPeer[pid]; !ok {
			cm.Unprotect(pid, protectTag)
			delete(s.protected, pid)
			_ = nw.ClosePeer(pid)
			s.log.Info("libp2p peer is no longer a member; disconnected", "peer_id", pid.String())
		}
	}
	for pid := range tbl.byPeer {
		if !s.protected[pid] {
			cm.Protect(pid, protectTag)
			s.protected[pid] = true
		}
		addr, ok := tbl.addrs[pid]
		if !ok || s.dialing[pid] || nw.Connectedness(pid) == network.Connected {
			continue
		}
		s.dialing[pid] = true
		s.wg.Go(func() { s.dial(ctx, pid, addr) })
	}
}

func (s *Service) dial(ctx context.Context, pid peer.ID, addr ma.Multiaddr) {
	defer func() {
		s.mu.Lock()
		delete(s.dialing, pid)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	s.host.Peerstore().SetAddrs(pid, []ma.Multiaddr{addr}, memberAddrsTTL)
	if err := s.host.Connect(ctx, peer.AddrInfo{ID: pid, Addrs: []ma.Multiaddr{addr}}); err != nil {
		s.log.Debug("libp2p dial failed", "peer_id", pid.String(), "addr", addr.String(), "err", err)
		return
	}
	s.log.Debug("libp2p peer connected", "peer_id", pid.String())
}
