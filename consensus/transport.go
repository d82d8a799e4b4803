package consensus

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// One TCP port carries both Raft and the internal RPC. Every connection
// opens with a preamble: one byte naming the stream, then a 32-byte tag
// that proves the dialer holds the cluster's join token. A connection with
// a bad preamble is closed before any Raft or RPC byte is read.
//
// The tag is static per cluster, so it keeps out machines that were never
// given the token; it is not a substitute for TLS against an attacker who
// can read the wire (see docs/security.md).
const (
	streamRaft byte = 'R'
	streamRPC  byte = 'G'

	preambleLen     = 1 + sha256.Size
	preambleTimeout = 5 * time.Second
)

// rpcAuthKey derives the preamble tag from the join token.
func rpcAuthKey(joinToken string) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, []byte(joinToken), nil, "cassnet rpc preamble v1", sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("derive rpc key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("cassnet-rpc"))
	return mac.Sum(nil), nil
}

// mux accepts connections on one listener and hands each to the Raft or
// RPC sub-listener according to its preamble.
type mux struct {
	ln     net.Listener
	tag    []byte
	logger *slog.Logger
	raft   *subListener
	rpc    *subListener
	wg     sync.WaitGroup
}

func newMux(ln net.Listener, tag []byte, logger *slog.Logger) *mux {
	m := &mux{ln: ln, tag: tag, logger: logger}
	m.raft = newSubListener(ln.Addr())
	m.rpc = newSubListener(ln.Addr())
	return m
}

// serve accepts until the listener is closed.
func (m *mux) serve() {
	m.wg.Add(1)
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.logger.Warn("raft port accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(conn)
		}()
	}
}

func (m *mux) route(conn net.Conn) {
	var buf [preambleLen]byte
	_ = conn.SetReadDeadline(time.Now().Add(preambleTimeout))
	if _, err := io.ReadFull(conn, buf[:]); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if subtle.ConstantTimeCompare(buf[1:], m.tag) != 1 {
		m.logger.Warn("refused connection with a bad preamble", "remote", conn.RemoteAddr().String())
		conn.Close()
		return
	}
	var target *subListener
	switch buf[0] {
	case streamRaft:
		target = m.raft
	case streamRPC:
		target = m.rpc
	default:
		conn.Close()
		return
	}
	if !target.deliver(conn) {
		conn.Close()
	}
}

// close stops accepting, closes both sub-listeners and waits.
func (m *mux) close() error {
	err := m.ln.Close()
	m.raft.Close()
	m.rpc.Close()
	m.wg.Wait()
	return err
}

// dial opens a connection to addr and writes the preamble for stream.
func dialStream(addr string, stream byte, tag []byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	pre := make([]byte, 0, preambleLen)
	pre = append(pre, stream)
	pre = append(pre, tag...)
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(pre); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// subListener is a net.Listener fed by the mux.
type subListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newSubListener(addr net.Addr) *subListener {
	return &subListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *subListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *subListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *subListener) Addr() net.Addr { return l.addr }

// raftStreamLayer is the raft.StreamLayer over the mux.
type raftStreamLayer struct {
	*subListener
	tag       []byte
	advertise net.Addr
}

func (s *raftStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialStream(string(address), streamRaft, s.tag, timeout)
}

// Addr is the address other servers dial, which may differ from the bind
// address.
func (s *raftStreamLayer) Addr() net.Addr { return s.advertise }
