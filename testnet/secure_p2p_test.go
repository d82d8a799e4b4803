package testnet

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// msMessage encodes one multistream-select message.
func msMessage(s string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(s)+1))
	return append(append(b, s...), '\n')
}

// msRead reads one multistream-select message.
func msRead(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n == 0 || n > 1024 {
		return "", fmt.Errorf("message length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b[:n-1]), nil
}

// p2pSecurityAnswer opens the libp2p port of n, negotiates multistream
// and proposes the security protocol proto; it returns the node's answer
// ("na" when refused, proto when accepted).
func p2pSecurityAnswer(n *Node, proto string) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.P2P)), 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(8 * time.Second))
	if _, err := c.Write(append(msMessage("/multistream/1.0.0"), msMessage(proto)...)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	if h, err := msRead(r); err != nil || h != "/multistream/1.0.0" {
		return "", fmt.Errorf("multistream header: %q %v", h, err)
	}
	return msRead(r)
}
