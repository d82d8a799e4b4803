package pubsub

import (
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// refreshEvery rate-limits rebuilding the peer table on a lookup miss
// (a member that joined since the last rebuild): misses are rare, and a
// refused member would wait for the next connect round.
const refreshEvery = 10 * time.Millisecond

// peerTable is the membership as pubsub needs it: alive and suspect
// members that advertise a valid peer ID (and, with a Binder, whose
// verified certificate binds it). It is immutable once built.
type peerTable struct {
	byPeer map[peer.ID]mesh.Member // not including this node
	byNode map[string]peer.ID      // node ID -> peer ID, this node included
	addrs  map[peer.ID]ma.Multiaddr
}

func buildPeerTable(members []mesh.Member, self peer.ID, b *Binder) *peerTable {
	t := &peerTable{
		byPeer: make(map[peer.ID]mesh.Member, len(members)),
		byNode: make(map[string]peer.ID, len(members)),
		addrs:  make(map[peer.ID]ma.Multiaddr, len(members)),
	}
	for _, m := range members {
		if m.Status != mesh.StatusAlive && m.Status != mesh.StatusSuspect || m.PeerID == "" {
			continue
		}
		pid, err := peer.Decode(m.PeerID)
		if err != nil || pid != self && b != nil && !b.Bound(m, pid) {
			continue
		}
		t.byNode[m.ID] = pid
		if pid == self {
			continue
		}
		t.byPeer[pid] = m
		if a, err := tcpMultiaddr(m.P2PAddr); err == nil {
			t.addrs[pid] = a
		}
	}
	return t
}

// tcpMultiaddr converts host:port (an IP host) to /ip4|ip6/.../tcp/port.
func tcpMultiaddr(hostport string) (ma.Multiaddr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, &net.AddrError{Err: "not an IP address", Addr: host}
	}
	return manet.FromNetAddr(&net.TCPAddr{IP: ip, Port: p})
}

// peers keeps the current peerTable, rebuilt from Members by the connect
// loop and, rate-limited, on a lookup miss (a member that just joined).
type peers struct {
	members Members
	self    peer.ID
	binder  *Binder // nil: gossip membership alone admits
	now     func() time.Time
	cur     atomic.Pointer[peerTable]
	last    atomic.Int64 // Unix ns of the last rebuild
}

func newPeers(m Members, self peer.ID, b *Binder, now func() time.Time) *peers {
	p := &peers{members: m, self: self, binder: b, now: now}
	p.refresh()
	return p
}

func (p *peers) refresh() *peerTable {
	t := buildPeerTable(p.members.Members(), p.self, p.binder)
	p.cur.Store(t)
	p.last.Store(p.now().UnixNano())
	return t
}

func (p *peers) table() *peerTable { return p.cur.Load() }

// member returns the mesh member that advertises pid.
func (p *peers) member(pid peer.ID) (mesh.Member, bool) {
	if m, ok := p.table().byPeer[pid]; ok {
		return m, true
	}
	if p.now().UnixNano()-p.last.Load() < int64(refreshEvery) {
		return mesh.Member{}, false
	}
	m, ok := p.refresh().byPeer[pid]
	return m, ok
}

// gater is the allowlist ConnectionGater: only peer IDs advertised by an
// alive (or suspect) mesh member, and with Config.Binder bound to it by
// its CA-verified certificate, may connect, in either direction.
// InterceptSecured is the first hook with an authenticated peer ID (libp2p
// TLS proves the peer holds the key of the ID it claims).
type gater struct {
	peers   *peers
	refused func()
}

// InterceptPeerDial refuses to dial non-members.
func (g *gater) InterceptPeerDial(p peer.ID) bool { return g.allow(p) }

// InterceptAddrDial allows every address of an allowed peer.
func (g *gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows the socket; the peer is checked once secured.
func (g *gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses authenticated connections from non-members.
func (g *gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return g.allow(p)
}

// InterceptUpgraded allows what InterceptSecured allowed.
func (g *gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

func (g *gater) allow(p peer.ID) bool {
	if _, ok := g.peers.member(p); ok {
		return true
	}
	if g.refused != nil {
		g.refused()
	}
	return false
}
