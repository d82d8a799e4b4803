package pubsub

import (
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// PeerInfo is one libp2p peer as GET /v1/pubsub/peers shows it.
type PeerInfo struct {
	PeerID string
	// Addrs are the peer's addresses known to the peerstore.
	Addrs []string
	// Member, NodeID and MemberStatus name the mesh member that advertises
	// this peer ID; empty for a connected peer that no member advertises
	// (it is being disconnected).
	Member       string
	NodeID       string
	MemberStatus string
	Connected    bool
}

// Peers lists the members' peers and any other connected peer, sorted by
// peer ID.
func (s *Service) Peers() []PeerInfo {
	s.mu.Lock()
	h := s.host
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	tbl := s.peers.table()
	ids := make(map[peer.ID]bool)
	for pid := range tbl.byPeer {
		ids[pid] = true
	}
	for _, pid := range h.Network().Peers() {
		ids[pid] = true
	}
	out := make([]PeerInfo, 0, len(ids))
	for pid := range ids {
		pi := PeerInfo{PeerID: pid.String(), Connected: h.Network().Connectedness(pid) == network.Connected}
		for _, a := range h.Peerstore().Addrs(pid) {
			pi.Addrs = append(pi.Addrs, a.String())
		}
		if m, ok := tbl.byPeer[pid]; ok {
			pi.Member, pi.NodeID, pi.MemberStatus = m.Name, m.ID, string(m.Status)
		}
		out = append(out, pi)
	}
	slices.SortFunc(out, func(a, b PeerInfo) int { return strings.Compare(a.PeerID, b.PeerID) })
	return out
}

// subscriberCounts returns local subscribers per topic (for metrics).
func (s *Service) subscriberCounts() map[string]int {
	s.mu.Lock()
	topics := make([]*topic, 0, len(s.topics))
	for _, t := range s.topics {
		topics = append(topics, t)
	}
	s.mu.Unlock()
	out := make(map[string]int, len(topics))
	for _, t := range topics {
		t.mu.Lock()
		out[t.name] = t.subs
		t.mu.Unlock()
	}
	return out
}

func (s *Service) connectedPeers() int {
	s.mu.Lock()
	h := s.host
	s.mu.Unlock()
	if h == nil {
		return 0
	}
	n := 0
	for _, p := range h.Network().Peers() {
		if h.Network().Connectedness(p) == network.Connected {
			n++
		}
	}
	return n
}
