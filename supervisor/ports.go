package supervisor

import (
	"fmt"
	"net"
	"strconv"
)

// reservePorts picks, for each PortSpec, the first port of its range that
// no server of this supervisor holds and that binds on all interfaces
// right now (the listener is closed at once: the game server binds it).
// prefer lists ports to try first (the ports of a restarted server).
// held is the supervisor's reservations ("udp/7000" -> server), updated on
// success; the caller holds the supervisor's lock.
func reservePorts(ports []PortSpec, held map[string]string, id string, prefer map[string]int) (map[string]int, error) {
	got := map[string]int{}
	var taken []string
	undo := func() {
		for _, k := range taken {
			delete(held, k)
		}
	}
	for _, p := range ports {
		lo, hi, err := ParsePortRange(p.Range)
		if err != nil {
			undo()
			return nil, err
		}
		try := func(port int) bool {
			k := p.Protocol + "/" + strconv.Itoa(port)
			if _, ok := held[k]; ok || !bindable(p.Protocol, port) {
				return false
			}
			held[k] = id
			taken = append(taken, k)
			got[p.Name] = port
			return true
		}
		if pp, ok := prefer[p.Name]; ok && pp >= lo && pp <= hi && try(pp) {
			continue
		}
		found := false
		for port := lo; port <= hi && !found; port++ {
			found = try(port)
		}
		if !found {
			undo()
			return nil, fmt.Errorf("%w: %s %s (%s)", ErrPortsExhausted, p.Name, p.Range, p.Protocol)
		}
	}
	return got, nil
}

// releasePorts frees a server's reservations.
func releasePorts(held map[string]string, id string) {
	for k, v := range held {
		if v == id {
			delete(held, k)
		}
	}
}

// bindable reports whether port can be bound now on all interfaces.
func bindable(proto string, port int) bool {
	addr := ":" + strconv.Itoa(port)
	if proto == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
