package testnet

import (
	"fmt"
	"net"
)

// Ports are one node's listening ports.
type Ports struct {
	Gossip, Raft, P2P, GRPC, HTTP int
}

// DefaultPorts are the agent's default ports. Nodes in their own network
// namespace use them: each has a network stack to itself.
func DefaultPorts() Ports {
	return Ports{Gossip: 7946, Raft: 7947, P2P: 7948, GRPC: 7949, HTTP: 8080}
}

// FreePorts finds five ports free for both TCP and UDP on ip. The ports are
// released before returning, so a race with another process is possible
// but unlikely.
func FreePorts(ip string) (Ports, error) {
	var got []int
	var holds []func()
	defer func() {
		for _, h := range holds {
			h()
		}
	}()
	for len(got) < 5 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return Ports{}, fmt.Errorf("find free port on %s: %w", ip, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		if err != nil {
			ln.Close()
			continue
		}
		holds = append(holds, func() { ln.Close(); pc.Close() })
		got = append(got, port)
	}
	return Ports{Gossip: got[0], Raft: got[1], P2P: got[2], GRPC: got[3], HTTP: got[4]}, nil
}
