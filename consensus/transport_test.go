package consensus

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func startMux(t *testing.T, token string) *mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tag, err := rpcAuthKey(token)
	if err != nil {
		t.Fatal(err)
	}
	m := newMux(ln, tag, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go m.serve()
	t.Cleanup(func() { m.close() })
	return m
}

// accepted reports whether the sub-listener hands out a connection soon.
func accepted(l *subListener) bool {
	got := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			got <- c
		}
	}()
	select {
	case c := <-got:
		c.Close()
		return true
	case <-time.After(300 * time.Millisecond):
		return false
	}
}

func TestMuxRoutesOnlyAuthenticatedStreams(t *testing.T) {
	m := startMux(t, "cnj_right")
	addr := m.ln.Addr().String()
	good, _ := rpcAuthKey("cnj_right")
	bad, _ := rpcAuthKey("cnj_wrong")

	c, err := dialStream(addr, streamRaft, good, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !accepted(m.raft) {
		t.Fatal("raft stream with the right tag was not delivered")
	}

	c2, err := dialStream(addr, streamRPC, good, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if !accepted(m.rpc) {
		t.Fatal("rpc stream with the right tag was not delivered")
	}

	for name, dial := range map[string]func() (net.Conn, error){
		"wrong token":    func() (net.Conn, error) { return dialStream(addr, streamRaft, bad, nil, time.Second) },
		"unknown stream": func() (net.Conn, error) { return dialStream(addr, 'X', good, nil, time.Second) },
		"plaintext": func() (net.Conn, error) {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 40))))
			}
			return c, err
		},
	} {
		c, err := dial()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if accepted(m.raft) || accepted(m.rpc) {
			t.Errorf("%s: connection was delivered", name)
		}
		// The mux closes the connection: a read sees EOF.
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: connection left open", name)
		}
		c.Close()
	}
}
