package testnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The NATS peer of the messaging benchmark. No NATS client library is in
// go.mod, and the benchmark needs four protocol verbs, so it speaks the
// text protocol directly: CONNECT, PING/PONG, PUB, SUB and MSG.

// NATS is a 3-server nats-server cluster on 127.0.0.1.
type NATS struct {
	// Addrs are the client addresses, one per server.
	Addrs []string
	// Pids are the servers' process ids.
	Pids []int
	stop []func()
}

// StartNATS starts three clustered nats-server processes (bin) with their
// logs in dir.
func StartNATS(bin, dir string) (*NATS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var client, cluster []int
	for range 3 {
		p, err := FreePorts("127.0.0.1")
		if err != nil {
			return nil, err
		}
		client, cluster = append(client, p.HTTP), append(cluster, p.Raft)
	}
	var routes []string
	for _, p := range cluster {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	n := &NATS{}
	for i := range 3 {
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("nats%d.log", i)))
		if err != nil {
			n.Stop()
			return nil, err
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(client[i]),
			"-cluster", routes[i], "-cluster_name", "bench", "-routes", strings.Join(routes, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			n.Stop()
			return nil, fmt.Errorf("start nats-server: %w", err)
		}
		n.stop = append(n.stop, func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
		})
		n.Addrs = append(n.Addrs, fmt.Sprintf("127.0.0.1:%d", client[i]))
		n.Pids = append(n.Pids, cmd.Process.Pid)
	}
	return n, nil
}

// Stop kills the servers and waits for them.
func (n *NATS) Stop() {
	for _, f := range n.stop {
		f()
	}
	n.stop = nil
}

// NATSVersion is "NATS <version>" from `nats-server --version`.
func NATSVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nats-server:"))
	if v == "" {
		return "NATS"
	}
	return "NATS " + strings.TrimPrefix(v, "v")
}

// natsConn is a minimal NATS client connection.
type natsConn struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	mu sync.Mutex // guards w
}

func dialNATS(ctx context.Context, addr string) (*natsConn, error) {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			n := &natsConn{c: c, r: bufio.NewReaderSize(c, 1<<20), w: bufio.NewWriterSize(c, 1<<20)}
			if _, err := n.r.ReadString('\n'); err != nil { // INFO
				c.Close()
				return nil, err
			}
			return n, n.flushPing(`CONNECT {"verbose":false,"pedantic":false,"echo":false}` + "\r\n")
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// flushPing writes cmd plus a PING and waits for the PONG, so the server
// has processed cmd.
func (n *natsConn) flushPing(cmd string) error {
	n.mu.Lock()
	_, _ = n.w.WriteString(cmd + "PING\r\n")
	err := n.w.Flush()
	n.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		line, err := n.r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "PONG") {
			return nil
		}
		if strings.HasPrefix(line, "-ERR") {
			return fmt.Errorf("nats: %s", strings.TrimSpace(line))
		}
	}
}

func (n *natsConn) pub(subject string, payload []byte, flush bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.w, "PUB %s %d\r\n", subject, len(payload))
	_, _ = n.w.Write(payload)
	_, _ = n.w.WriteString("\r\n")
	if flush {
		return n.w.Flush()
	}
	return nil
}

func (n *natsConn) flush() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.w.Flush()
}

// nextMsg reads the next MSG payload, answering PINGs.
func (n *natsConn) nextMsg() ([]byte, error) {
	for {
		line, err := n.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(line, "MSG "):
			f := strings.Fields(line)
			size, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return nil, err
			}
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(n.r, buf); err != nil {
				return nil, err
			}
			return buf[:size], nil
		case strings.HasPrefix(line, "PING"):
			n.mu.Lock()
			_, _ = n.w.WriteString("PONG\r\n")
			_ = n.w.Flush()
			n.mu.Unlock()
		case strings.HasPrefix(line, "-ERR"):
			return nil, fmt.Errorf("nats: %s (NATS drops slow consumers)", strings.TrimSpace(line))
		}
	}
}

// errNATSClosed marks a closed benchmark connection.
var errNATSClosed = errors.New("nats: connection closed")
