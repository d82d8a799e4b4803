package consensus

import (
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
