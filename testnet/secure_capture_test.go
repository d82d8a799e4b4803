package testnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// capture reads every IPv4/TCP segment on the loopback interface through
// an AF_PACKET socket (what tcpdump does) and keeps the payloads by port.
type capture struct {
	fd   int
	mu   sync.Mutex
	byPt map[int][]byte
	done chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startCapture returns nil and the reason when raw sockets are not allowed.
func startCapture(ports map[int]bool) (*capture, error) {
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(syscall.ETH_P_IP)))
	if err != nil {
		return nil, err
	}
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	c := &capture{fd: fd, byPt: map[int][]byte{}, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 1<<16)
		for {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				return
			}
			c.add(buf[:n], ports)
		}
	}()
	return c, nil
}

func (c *capture) add(pkt []byte, ports map[int]bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != syscall.IPPROTO_TCP {
		return
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if total > len(pkt) || ihl+20 > total {
		return
	}
	tcp := pkt[ihl:total]
	src, dst := int(binary.BigEndian.Uint16(tcp[0:2])), int(binary.BigEndian.Uint16(tcp[2:4]))
	off := int(tcp[12]>>4) * 4
	if off > len(tcp) || len(tcp) == off {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range []int{src, dst} {
		if ports[p] {
			c.byPt[p] = append(c.byPt[p], tcp[off:]...)
		}
	}
}

func (c *capture) stop() map[int][]byte {
	syscall.Close(c.fd)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPt
}

// TestSecureCapture reads the loopback wire while a ban is written
// through a follower and asserts the ban reason crosses no node-to-node
// port in plaintext. The HTTP port, where the client sends it in the
// clear, is the positive control that the capture works.
func TestSecureCapture(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	internal := map[int]bool{}
	all := map[int]bool{}
	for _, nd := range nodes {
		for _, p := range []int{nd.Ports.Raft, nd.Ports.Gossip, nd.Ports.P2P} {
			internal[p], all[p] = true, true
		}
		all[nd.Ports.HTTP] = true
	}
	capt, err := startCapture(all)
	if err != nil {
		t.Skipf("packet capture unavailable (needs CAP_NET_RAW for an AF_PACKET socket): %v", err)
	}
	leader := leaderOf(t, ctx, cl, nodes)
	follower := others(nodes, leader)[0]
	mustWrite(t, ctx, cl, follower, "/v1/tenants", map[string]any{"name": "studio"}, http.StatusCreated)
	const reason = "wallhack-plaintext-canary-7f3a9c"
	for i := 0; i < 5; i++ {
		mustWrite(t, ctx, cl, follower, "/v1/tenants/studio/bans",
			map[string]any{"player_id": "p" + string(rune('a'+i)), "reason": reason}, http.StatusCreated)
	}
	waitBanned(t, ctx, cl, nodes, "studio", "pe", true, 5*time.Second)
	time.Sleep(2 * time.Second) // let heartbeats and snapshots flow
	got := capt.stop()

	if !bytes.Contains(got[follower.Ports.HTTP], []byte(reason)) {
		t.Fatalf("capture saw no plaintext on the HTTP port (%d bytes): the capture is not working", len(got[follower.Ports.HTTP]))
	}
	raftBytes := 0
	for _, nd := range nodes {
		raftBytes += len(got[nd.Ports.Raft])
	}
	if raftBytes < 1000 {
		t.Fatalf("captured only %d bytes on the Raft ports", raftBytes)
	}
	for p := range internal {
		if bytes.Contains(got[p], []byte(reason)) {
			t.Errorf("the ban reason crossed port %d in plaintext", p)
		}
	}
	t.Logf("captured %d bytes on Raft ports; ban reason absent from every node-to-node port", raftBytes)
}
