package consensus

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// testIdentity is a node identity signed by ca.
func testIdentity(t *testing.T, ca *pki.CA, name string) *pki.Identity {
	t.Helper()
	csr, key, err := pki.NewCSR(name, nil)
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

// TestMuxTLS: with TLS on, only a client with a certificate from the
// cluster CA gets a Raft or RPC stream through.
func TestMuxTLS(t *testing.T) {
	ca, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	srv := testIdentity(t, ca, "srv")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := rpcAuthKey("key")
	m := newMux(ln, tag, &TLS{Server: srv.ServerConfig(), Client: srv.ClientConfig()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	go m.serve()
	t.Cleanup(func() { m.close() })
	addr := ln.Addr().String()

	good := testIdentity(t, ca, "good").ClientConfig()
	c, err := dialStream(addr, streamRaft, tag, good, 2*time.Second)
	if err != nil {
		t.Fatalf("dial with a cluster certificate: %v", err)
	}
	defer c.Close()
	if !accepted(m.raft) {
		t.Fatal("raft stream with a cluster certificate was not delivered")
	}

	foreign := testIdentity(t, other, "bad").ClientConfig()
	foreign.RootCAs = ca.Pool() // trusts the server, presents a foreign cert
	if c, err := dialStream(addr, streamRPC, tag, foreign, 2*time.Second); err == nil {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, rerr := c.Read(make([]byte, 1)); rerr == nil {
			t.Fatal("foreign certificate was accepted")
		}
		c.Close()
	}
	if accepted(m.rpc) {
		t.Fatal("rpc stream with a foreign certificate was delivered")
	}
	plain, err := dialStream(addr, streamRaft, tag, nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.Write([]byte("plaintext"))
	if accepted(m.raft) {
		t.Fatal("plaintext raft stream was delivered")
	}
	plain.Close()
}

// TestPeerCertificate: a member's CA-verified certificate, and the peer ID
// it binds, can be read from its RPC stream; a server with a certificate
// from another CA is refused.
func TestPeerCertificate(t *testing.T) {
	ca, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	const pid = "12D3KooWGzBr8i9P2uPJGW1n5oq3kvS7dHmfJ2gZ6s1Tj3zRQe2p"
	csr, key, err := pki.NewNodeCSR("srv", nil, pid)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.NewIdentity(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(id *pki.Identity) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := rpcAuthKey("key")
		m := newMux(ln, tag, &TLS{Server: id.ServerConfig(), Client: id.ClientConfig()},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		go m.serve()
		go func() { // stand in for the gRPC server
			for {
				c, err := m.rpc.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		t.Cleanup(func() { m.close() })
		return ln.Addr().String()
	}
	client := testIdentity(t, ca, "client").ClientConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := PeerCertificate(ctx, serve(srv), "key", client)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := pki.PeerIDOf(got); err != nil || id != pid || got.Subject.CommonName != "srv" {
		t.Fatalf("peer id %q, cn %q, err %v", id, got.Subject.CommonName, err)
	}
	other, err := pki.NewCA("c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PeerCertificate(ctx, serve(testIdentity(t, other, "srv")), "key", client); err == nil {
		t.Fatal("a server certificate from another CA was accepted")
	}
}
