package mesh

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestJoinStream: a TCP stream opening with JoinStreamByte reaches the
// join handler on the gossip port, while gossip between two nodes with the
// same keyring (given as Keys) still works through the wrapper.
func TestJoinStream(t *testing.T) {
	got := make(chan []byte, 1)
	key := make([]byte, 32)
	key[0] = 7
	a := testConfig(t, "a")
	a.Keys = [][]byte{key}
	a.JoinHandler = func(c net.Conn) {
		defer c.Close()
		b := make([]byte, 5)
		_, _ = io.ReadFull(c, b)
		got <- b
	}
	ma := startMesh(t, a)
	b := testConfig(t, "b")
	b.Keys = [][]byte{key}
	b.JoinToken = "another token: ignored when Keys is set"
	b.Seeds = []string{gossipAddr(a)}
	mb := startMesh(t, b)
	waitFor(t, 10*time.Second, seesAll([]*Mesh{ma, mb}, []string{"a", "b"}, StatusAlive))

	c, err := net.DialTimeout("tcp", gossipAddr(a), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append([]byte{JoinStreamByte}, "hello"...)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "hello" {
			t.Fatalf("handler read %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("join stream never reached the handler")
	}
}
