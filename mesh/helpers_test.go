package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const testToken = "correct horse battery staple"

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out in this test binary
)

// freePort returns a port free on 127.0.0.1 for both TCP and UDP, as
// memberlist needs the same port for both, and never the same port twice.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = u.Close()
		if ports[port] {
			continue
		}
		ports[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}

// testLogger discards logs unless MESH_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("MESH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastTiming makes a 3-node loopback cluster detect a failure in about
// a second and forget the dead after one more.
func fastTiming() Timing {
	return Timing{
		ProbeInterval:           200 * time.Millisecond,
		ProbeTimeout:            100 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 2,
		GossipInterval:          50 * time.Millisecond,
		GossipToTheDeadTime:     time.Second,
		PushPullInterval:        time.Second,
		TCPTimeout:              500 * time.Millisecond,
		DeadNodeReclaimTime:     time.Second,
	}
}

// testConfig is a loopback node on a fresh port with fast timing.
func testConfig(t *testing.T, name string) Config {
	t.Helper()
	port := freePort(t)
	return Config{
		Name:      name,
		NodeID:    "id-" + name,
		BindAddr:  "127.0.0.1",
		BindPort:  port,
		JoinToken: testToken,
		Meta: Meta{
			Version:  "v0.0.0-test",
			RaftAddr: fmt.Sprintf("127.0.0.1:%d", port+1),
			HTTPAddr: fmt.Sprintf("127.0.0.1:%d", port+2),
		},
		ReconnectInterval: 300 * time.Millisecond,
		JoinRetryMax:      time.Second,
		Logger:            testLogger(),
		Timing:            fastTiming(),
	}
}

// gossipAddr is where a node built from cfg listens.
func gossipAddr(cfg Config) string {
	return net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort))
}

// startMesh starts a Mesh from cfg and shuts it down at cleanup.
func startMesh(t *testing.T, cfg Config) *Mesh {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.Name, err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// waitFor polls cond until it returns "" or timeout passes; it returns
// how long that took. cond describes what is still missing.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		missing := cond()
		if missing == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusOf returns how m sees name ("" if unknown).
func statusOf(m *Mesh, name string) Status {
	for _, mem := range m.Members() {
		if mem.Name == name {
			return mem.Status
		}
	}
	return ""
}

// seesAll reports what is missing for every mesh in ms to see every
// name in names with status want.
func seesAll(ms []*Mesh, names []string, want Status) func() string {
	return func() string {
		for _, m := range ms {
			for _, n := range names {
				if got := statusOf(m, n); got != want {
					return fmt.Sprintf("%s sees %s as %q, want %q", m.cfg.Name, n, got, want)
				}
			}
		}
		return ""
	}
}

// gate wraps memberlist's transport so a test can cut a node off: while
// blocked it drops every packet in and out and refuses every stream, as a
// network partition would.
type gate struct {
	memberlist.NodeAwareTransport
	blocked atomic.Bool
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func newGate(inner memberlist.NodeAwareTransport) *gate {
	g := &gate{
		NodeAwareTransport: inner,
		packets:            make(chan *memberlist.Packet),
		streams:            make(chan net.Conn),
		done:               make(chan struct{}),
	}
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		for {
			select {
			case p := <-inner.PacketCh():
				if g.blocked.Load() {
					continue
				}
				select {
				case g.packets <- p:
				case <-g.done:
					return
				}
			case <-g.done:
				return
			}
		}
	}()
	go func() {
		defer g.wg.Done()
		for {
			select {
			case c := <-inner.StreamCh():
				if g.blocked.Load() {
					_ = c.Close()
					continue
				}
				select {
				case g.streams <- c:
				case <-g.done:
					_ = c.Close()
					return
				}
			case <-g.done:
				return
			}
		}
	}()
	return g
}

var errPartitioned = errors.New("test: partitioned")

func (g *gate) PacketCh() <-chan *memberlist.Packet { return g.packets }
func (g *gate) StreamCh() <-chan net.Conn           { return g.streams }

func (g *gate) WriteTo(b []byte, addr string) (time.Time, error) {
	if g.blocked.Load() {
		return time.Now(), nil // lost on the way
	}
	return g.NodeAwareTransport.WriteTo(b, addr)
}

func (g *gate) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if g.blocked.Load() {
		return time.Now(), nil
	}
	return g.NodeAwareTransport.WriteToAddress(b, addr)
}

func (g *gate) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if g.blocked.Load() {
		return nil, errPartitioned
	}
	return g.NodeAwareTransport.DialTimeout(addr, timeout)
}

func (g *gate) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if g.blocked.Load() {
		return nil, errPartitioned
	}
	return g.NodeAwareTransport.DialAddressTimeout(addr, timeout)
}

func (g *gate) Shutdown() error {
	err := g.NodeAwareTransport.Shutdown()
	g.once.Do(func() { close(g.done) })
	g.wg.Wait()
	return err
}

// withGate makes cfg's node use a gate and returns it once Start builds
// the transport.
func withGate(cfg *Config) <-chan *gate {
	ch := make(chan *gate, 1)
	cfg.wrapTransport = func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		g := newGate(inner)
		ch <- g
		return g
	}
	return ch
}

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
