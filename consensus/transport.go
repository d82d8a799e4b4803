package consensus

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
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
//
// With Config.TLS set, the preamble stays in the clear (it is a cheap
// filter, not a secret) and a TLS 1.3 handshake follows it at once: Raft
// and RPC streams require a client certificate from the cluster CA, and
// the join stream ('J') is handed, still raw, to Config.TLS.Join, which
// runs its own TLS without a client certificate.
const (
	streamRaft byte = 'R'
	streamRPC  byte = 'G'
	streamJoin byte = 'J'

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

// PreambleTag is the 32-byte tag that follows the stream byte of the
// preamble for key (a Config.JoinToken value). Tools and tests use it to
// reach the TLS handshake of a port.
func PreambleTag(key string) ([]byte, error) { return rpcAuthKey(key) }

// mux accepts connections on one listener and hands each to the Raft or
// RPC sub-listener according to its preamble.
type mux struct {
	ln     net.Listener
	tag    []byte
	tls    *TLS // nil: plaintext streams
	logger *slog.Logger
	raft   *subListener
	rpc    *subListener
	wg     sync.WaitGroup
}

func newMux(ln net.Listener, tag []byte, tlsConf *TLS, logger *slog.Logger) *mux {
	m := &mux{ln: ln, tag: tag, tls: tlsConf, logger: logger}
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
	case streamJoin:
		if m.tls == nil || m.tls.Join == nil {
			conn.Close()
			return
		}
		m.tls.Join(conn)
		return
	case streamRaft:
		target = m.raft
	case streamRPC:
		target = m.rpc
	default:
		conn.Close()
		return
	}
	if m.tls != nil {
		tc := tls.Server(conn, m.tls.Server)
		ctx, cancel := context.WithTimeout(context.Background(), preambleTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			m.logger.Warn("refused connection: tls handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			conn.Close()
			return
		}
		conn = tc
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

// dialStream opens a connection to addr, writes the preamble for stream
// and, if tlsConf is set, completes a TLS handshake as the client.
func dialStream(addr string, stream byte, tag []byte, tlsConf *tls.Config, timeout time.Duration) (net.Conn, error) {
	conn, err := dialPreamble(addr, stream, tag, timeout)
	if err != nil || tlsConf == nil {
		return conn, err
	}
	tc := tls.Client(conn, tlsConf)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// DialJoin opens the join stream of the Raft/RPC port at addr for a node
// that holds no certificate yet; preambleKey is the value the cluster's
// servers were given as Config.JoinToken. The caller runs the join TLS
// handshake on the returned connection.
func DialJoin(ctx context.Context, addr, preambleKey string) (net.Conn, error) {
	tag, err := rpcAuthKey(preambleKey)
	if err != nil {
		return nil, err
	}
	timeout := dialTimeout(ctx)
	return dialPreamble(addr, streamJoin, tag, timeout)
}

func dialPreamble(addr string, stream byte, tag []byte, timeout time.Duration) (net.Conn, error) {
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
	tls       *tls.Config // client side; nil for plaintext
	advertise net.Addr
}

func (s *raftStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialStream(string(address), streamRaft, s.tag, s.tls, timeout)
}

// Addr is the address other servers dial, which may differ from the bind
// address.
func (s *raftStreamLayer) Addr() net.Addr { return s.advertise }

// dialTimeout is how long a dial may take: until ctx's deadline, or 5 s
// when it has none.
func dialTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return 5 * time.Second
}
