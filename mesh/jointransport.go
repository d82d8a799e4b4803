package mesh

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// JoinStreamByte opens a join stream on the gossip port's TCP listener.
// memberlist's own streams start with a message type below 32, so the two
// never collide. A node that is not yet a member knows only a seed's
// gossip address; this lets it reach the seed's join handler there.
const JoinStreamByte byte = 'J'

// peekTimeout bounds how long an accepted stream may take to send its
// first byte.
const peekTimeout = 5 * time.Second

// joinTransport wraps memberlist's transport and diverts join streams.
type joinTransport struct {
	memberlist.NodeAwareTransport
	handle func(net.Conn)
	out    chan net.Conn
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newJoinTransport(inner memberlist.NodeAwareTransport, handle func(net.Conn)) *joinTransport {
	t := &joinTransport{NodeAwareTransport: inner, handle: handle, out: make(chan net.Conn), stop: make(chan struct{})}
	t.wg.Add(1)
	go t.loop()
	return t
}

// StreamCh implements memberlist.Transport.
func (t *joinTransport) StreamCh() <-chan net.Conn { return t.out }

// Shutdown implements memberlist.Transport.
func (t *joinTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	t.once.Do(func() { close(t.stop) })
	t.wg.Wait()
	return err
}

func (t *joinTransport) loop() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-t.stop:
			return
		case c := <-in:
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				t.route(c)
			}()
		}
	}
}

// route peeks at the first byte: join streams go to the handler, the rest
// to memberlist with the byte put back.
func (t *joinTransport) route(c net.Conn) {
	br := bufio.NewReaderSize(c, 64)
	_ = c.SetReadDeadline(time.Now().Add(peekTimeout))
	b, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	if b[0] == JoinStreamByte {
		_, _ = br.Discard(1)
		t.handle(&peekedConn{Conn: c, r: br})
		return
	}
	select {
	case t.out <- &peekedConn{Conn: c, r: br}:
	case <-t.stop:
		c.Close()
	}
}

// peekedConn reads through the buffer that holds the peeked bytes.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
