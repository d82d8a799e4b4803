package pubsub

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/cassandranet/cassnet/pki"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// nodeIdentity is a certificate for name from ca binding peerID ("": none).
func nodeIdentity(t *testing.T, ca *pki.CA, name, peerID string) *pki.Identity {
	t.Helper()
	csr, key, err := pki.NewNodeCSR(name, nil, peerID)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.NewIdentity(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// certServer stands in for a member's mTLS Raft/RPC port: it completes a
// handshake with id's certificate (client certificate required) and
// closes. It returns its address.
func certServer(t *testing.T, id *pki.Identity) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, id.ServerConfig())
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				_ = tc.Handshake()
				tc.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// mtlsFetch is the CertFetch of a node holding id: the member's server
// certificate, verified against id's CA by the handshake.
func mtlsFetch(id *pki.Identity) CertFetch {
	return func(ctx context.Context, m mesh.Member) (*x509.Certificate, error) {
		d := tls.Dialer{Config: id.ClientConfig()}
		c, err := d.DialContext(ctx, "tcp", m.RaftAddr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cs := c.(*tls.Conn).ConnectionState()
		if len(cs.VerifiedChains) == 0 {
			return nil, errors.New("unverified")
		}
		return cs.PeerCertificates[0], nil
	}
}

func newKey(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pid
}

func startBound(t *testing.T, members *fakeMembers, ca *pki.CA, i int) *Service {
	t.Helper()
	key, pid := newKey(t)
	name, nodeID := "n"+string(rune('0'+i)), "node-"+string(rune('0'+i))
	id := nodeIdentity(t, ca, name, pid.String())
	s, err := New(Config{NodeID: nodeID, Key: key, ListenAddr: "127.0.0.1:0", Members: members,
		Binder: NewBinder(mtlsFetch(id)), Logger: testLogger().With("node", i)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	members.add(mesh.Member{Meta: mesh.Meta{Name: name, ID: nodeID, PeerID: pid.String(),
		P2PAddr: s.Addr(), RaftAddr: certServer(t, id)}, Status: mesh.StatusAlive})
	return s
}

// TestGaterRequiresCertBinding: with a Binder, members whose CA-signed
// certificates bind their peer IDs connect, while libp2p hosts with valid
// TLS identities whose peer IDs are advertised in gossip but not bound by
// a certificate of the cluster CA (a cluster certificate binding another
// peer ID, one binding none, or one from another CA binding it) are
// refused by the gater in both directions.
func TestGaterRequiresCertBinding(t *testing.T) {
	ca, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	members := &fakeMembers{}
	s1 := startBound(t, members, ca, 1)
	s2 := startBound(t, members, ca, 2)

	_, elsewhere := newKey(t)
	var intruders []host.Host
	for i, mk := range []func(pid peer.ID) *pki.Identity{
		func(peer.ID) *pki.Identity { return nodeIdentity(t, ca, "x1", elsewhere.String()) },
		func(peer.ID) *pki.Identity { return nodeIdentity(t, ca, "x2", "") },
		func(pid peer.ID) *pki.Identity { return nodeIdentity(t, other, "x3", pid.String()) },
	} {
		key, pid := newKey(t)
		h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(libp2ptls.ID, libp2ptls.New),
			libp2p.DisableRelay(), libp2p.DisableMetrics())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		id := mk(pid)
		members.add(mesh.Member{Meta: mesh.Meta{Name: id.Leaf().Subject.CommonName, ID: "intruder-" + string(rune('1'+i)),
			PeerID: pid.String(), P2PAddr: hostAddr(t, h), RaftAddr: certServer(t, id)}, Status: mesh.StatusAlive})
		intruders = append(intruders, h)
	}
	// Gossip alone would admit them: the refusals below are the binding's.
	if n := len(buildPeerTable(members.Members(), s1.PeerID(), nil).byPeer); n != 4 {
		t.Fatalf("without a binder %d peers are admitted, want 4", n)
	}

	deadline := time.Now().Add(10 * time.Second)
	for s1.host.Network().Connectedness(s2.PeerID()) != network.Connected {
		if time.Now().After(deadline) {
			t.Fatal("bound members did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}

	addr, _ := tcpMultiaddr(s1.Addr())
	for i, h := range intruders {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		err := h.Connect(ctx, peer.AddrInfo{ID: s1.PeerID(), Addrs: []ma.Multiaddr{addr}})
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for s1.host.Network().Connectedness(h.ID()) == network.Connected || h.Network().Connectedness(s1.PeerID()) == network.Connected {
			if time.Now().After(deadline) {
				t.Fatalf("intruder %d stayed connected (connect err %v)", i+1, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, ok := s1.peers.member(h.ID()); ok {
			t.Fatalf("intruder %d is in the peer table", i+1)
		}
		ctx, cancel = context.WithTimeout(t.Context(), 3*time.Second)
		if err := s1.host.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err == nil {
			t.Fatalf("dialled intruder %d", i+1)
		}
		cancel()
	}
	if got := testutil.ToFloat64(s1.met.refused); got < float64(len(intruders)) {
		t.Fatalf("gater refusals = %v", got)
	}
}

func hostAddr(t *testing.T, h host.Host) string {
	t.Helper()
	for _, a := range h.Addrs() {
		if s, err := hostPort(a); err == nil {
			return s
		}
	}
	t.Fatal("host has no tcp address")
	return ""
}
