package pubsub

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/libp2p/go-libp2p"
	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// backfillProtocol is the direct request/response protocol for gap repair
// and resume.
const backfillProtocol = protocol.ID("/cassnet/backfill/1.0.0")

// newHost builds the libp2p host: TCP only, libp2p TLS only (no Noise, no
// QUIC, WebRTC or WebTransport listeners), no relay, the membership gater
// and a connection manager (member connections are protected). libp2p's
// own Prometheus metrics are disabled: they would register on the global
// default registry.
func (s *Service) newHost() (host.Host, error) {
	listen, err := tcpMultiaddr(s.cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("pubsub: listen address %q: %w", s.cfg.ListenAddr, err)
	}
	cm, err := connmgr.NewConnManager(64, 128)
	if err != nil {
		return nil, fmt.Errorf("pubsub: connection manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(s.cfg.Key),
		libp2p.ListenAddrs(listen),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.DisableRelay(),
		libp2p.ConnectionGater(&gater{peers: s.peers, refused: func() { s.met.refused.Inc() }}),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("cassnet"),
	)
	if err != nil {
		return nil, fmt.Errorf("pubsub: libp2p host: %w", err)
	}
	return h, nil
}

// newGossipSub configures GossipSub. Signing policy: StrictNoSign (see
// doc.go). Queues are sized by Config.QueueSize and every drop is counted
// by the tracer. Peer exchange is off: peers come only from the mesh
// membership, and the peer filter ignores anyone else.
func (s *Service) newGossipSub(h host.Host) (*lp2pps.PubSub, error) {
	// The message cache holds every message for HistoryLength heartbeats
	// (1 s each) for IHAVE gossip, which repairs what a mesh link lost.
	// Gap repair is our own backfill, and at full rate the cache is most
	// of a node's heap (3 s of 100k msgs/s is 300 MB of batches), so it
	// keeps the least that still lets gossip work: each heartbeat
	// advertises the window it then keeps for one more, so an IWANT
	// within a second is still answered (HistoryLength 1 would drop what
	// was just advertised). docs/benchmarks.md, "Issue 17, seventh
	// session", has the memory this saves.
	params := lp2pps.DefaultGossipSubParams()
	params.HistoryLength, params.HistoryGossip = 2, 1
	ps, err := lp2pps.NewGossipSub(s.runCtx, h,
		lp2pps.WithGossipSubParams(params),
		lp2pps.WithMessageSignaturePolicy(lp2pps.StrictNoSign),
		lp2pps.WithPeerOutboundQueueSize(s.cfg.QueueSize),
		lp2pps.WithValidateQueueSize(s.cfg.QueueSize),
		// One validation worker: GossipSub's workers (one per CPU by
		// default) validate concurrently and so deliver one peer's
		// messages out of order, which the orderer must then hold. With
		// batching there are few gossip messages to validate, and order
		// is worth more than the parallelism.
		lp2pps.WithValidateWorkers(1),
		lp2pps.WithMaxMessageSize(max(lp2pps.DefaultMaxMessageSize, 2*s.maxGossipBytes())),
		lp2pps.WithRawTracer(tracer{m: s.met}),
		lp2pps.WithPeerExchange(false),
		// GossipSub v0.16 defaults to mesh-only publishing: until the first
		// heartbeat grafts a mesh (about 1 s after a join), a publish reaches
		// nobody. Flood publishing sends an origin's own messages to every
		// subscribed member directly; relays still use the mesh.
		lp2pps.WithFloodPublish(true),
		lp2pps.WithPeerFilter(func(pid peer.ID, _ string) bool {
			_, ok := s.peers.member(pid)
			return ok
		}),
		lp2pps.WithLogger(slog.New(minLevel{s.log.Handler(), slog.LevelError}).With("component", "gossipsub")),
	)
	if err != nil {
		return nil, fmt.Errorf("pubsub: gossipsub: %w", err)
	}
	return ps, nil
}

// hostPort converts a TCP multiaddr back to host:port.
func hostPort(a ma.Multiaddr) (string, error) {
	na, err := manet.ToNetAddr(a)
	if err != nil {
		return "", err
	}
	tcp, ok := na.(*net.TCPAddr)
	if !ok {
		return "", fmt.Errorf("not TCP: %s", a)
	}
	return net.JoinHostPort(tcp.IP.String(), strconv.Itoa(tcp.Port)), nil
}

// minLevel drops records below a level: GossipSub logs every message at
// debug, which would drown a node running at debug.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
