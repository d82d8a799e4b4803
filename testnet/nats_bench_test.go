package testnet

import (
	"bufio"
	"context"
	"encoding/binary"
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
	"testing"
	"time"
)

// The NATS side of BenchmarkPubSub. No NATS client library is in go.mod,
// and the benchmark needs four protocol verbs, so it speaks the text
// protocol directly: CONNECT, PING/PONG, PUB, SUB and MSG.

// startNATS starts three clustered nats-server processes on 127.0.0.1 and
// returns their client addresses.
func startNATS(b *testing.B, bin string) []string {
	b.Helper()
	dir := b.TempDir()
	var client, cluster []int
	for range 3 {
		p, err := FreePorts("127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		client, cluster = append(client, p.HTTP), append(cluster, p.Raft)
	}
	var routes []string
	for _, p := range cluster {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var addrs []string
	for i := range 3 {
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("nats%d.log", i)))
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(client[i]),
			"-cluster", routes[i], "-cluster_name", "bench", "-routes", strings.Join(routes, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
		})
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", client[i]))
	}
	return addrs
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
			return nil, fmt.Errorf("nats: %s", strings.TrimSpace(line))
		}
	}
}

func benchNATS(b *testing.B) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		b.Skip("nats-server not installed (apt-get install nats-server)")
	}
	addrs := startNATS(b, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runs := 0
	for _, mode := range []struct {
		name string
		rate int
	}{{"throughput", 0}, {"latency", latencyRate}} {
		b.Run(mode.name, func(b *testing.B) {
			runs++
			subject := fmt.Sprintf("bench.%d", runs)
			sub, err := dialNATS(ctx, addrs[0])
			if err != nil {
				b.Fatal(err)
			}
			defer sub.c.Close()
			pub, err := dialNATS(ctx, addrs[2])
			if err != nil {
				b.Fatal(err)
			}
			defer pub.c.Close()
			if err := sub.flushPing("SUB " + subject + " 1\r\n"); err != nil {
				b.Fatal(err)
			}
			// Let the subscription's interest reach the other servers.
			time.Sleep(200 * time.Millisecond)
			benchNATSRun(b, pub, sub, subject, mode.rate)
		})
	}
}

func benchNATSRun(b *testing.B, pub, sub *natsConn, subject string, rate int) {
	b.ResetTimer()
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		var tick *time.Ticker
		if rate > 0 {
			tick = time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
		}
		payload := make([]byte, benchPayload)
		for range b.N {
			if tick != nil {
				<-tick.C
			}
			binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			if err := pub.pub(subject, payload, tick != nil); err != nil {
				errc <- err
				return
			}
		}
		pub.mu.Lock()
		defer pub.mu.Unlock()
		errc <- pub.w.Flush()
	}()
	var lat Histogram
	for i := range b.N {
		_ = sub.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		msg, err := sub.nextMsg()
		if err != nil {
			b.Fatalf("message %d of %d: %v (NATS drops for slow consumers)", i, b.N, err)
		}
		lat.Record(time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(msg)))))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	s := lat.Summary()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(s.P99.Microseconds())/1000, "p99-ms")
}
