package testnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/pki"
)

// raftAddr is a node's Raft/RPC port.
func raftAddr(n *Node) string { return net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.Raft)) }

// clusterToken reads and parses the bootstrap node's join token.
func clusterToken(t *testing.T, n *Node) pki.Token {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.DataDir, "join-token"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.ParseToken(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialJoinStream opens n's join stream as a joining node would.
func dialJoinStream(t *testing.T, ctx context.Context, n *Node, tok pki.Token) net.Conn {
	t.Helper()
	c, err := consensus.DialJoin(ctx, raftAddr(n), hex.EncodeToString(tok.Fingerprint[:]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refused reports nil if the peer closes or alerts without ever sending
// application data.
func refused(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
	b, err := io.ReadAll(c)
	if err == nil || errors.Is(err, io.EOF) || !isTimeout(err) {
		if len(b) > 0 && b[0] != 0x15 { // anything but a TLS alert record
			return fmt.Errorf("peer answered %d bytes: %q", len(b), b)
		}
		return nil
	}
	return fmt.Errorf("connection left open: %w", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// foreignIdentity is a node certificate from a CA the cluster never saw.
func foreignIdentity(t *testing.T) tls.Certificate {
	t.Helper()
	ca, err := pki.NewCA("cassnet")
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := pki.NewCSR("intruder", nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: cert}
}

func TestSecureMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, cl := startCluster(t, ctx, 3, 3)
	nodes := c.Nodes()
	tok := clusterToken(t, nodes[0])
	caCert, err := x509.ParseCertificate(mustRead(t, filepath.Join(nodes[0].DataDir, "tls", "ca.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if pki.Fingerprint(caCert) != tok.Fingerprint {
		t.Fatal("join token does not pin the CA in the bootstrap node's data dir")
	}
	for _, nd := range nodes[1:] {
		// Every joined node receives the CA key (issuing survives the
		// bootstrap node; TestSecureCAFailover).
		if _, err := os.Stat(filepath.Join(nd.DataDir, "tls", pki.CAKeyFile)); err != nil {
			t.Errorf("%s does not hold the CA key: %v", nd.Name, err)
		}
	}

	t.Run("plaintext refused", func(t *testing.T) {
		for _, nd := range nodes {
			for name, payload := range map[string][]byte{
				"no preamble": []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 64)),
				"raft no tls": append(rawPreamble(t, 'R', tok), []byte(strings.Repeat("plaintext raft ", 20))...),
				"rpc no tls":  append(rawPreamble(t, 'G', tok), []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")...),
				"join no tls": append(rawPreamble(t, 'J', tok), []byte(strings.Repeat("{}", 40))...),
			} {
				conn, err := net.DialTimeout("tcp", raftAddr(nd), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = conn.Write(payload)
				if err := refused(conn); err != nil {
					t.Errorf("%s %s: %v", nd.Name, name, err)
				}
				conn.Close()
			}
		}
	})

	// libp2p negotiates its security protocol in the clear
	// (multistream-select); the node must refuse plaintext and Noise and
	// offer only TLS. Non-members are refused after TLS by pubsub's gater
	// (pubsub.TestGaterRefusesNonMember).
	t.Run("libp2p plaintext refused", func(t *testing.T) {
		for _, nd := range nodes {
			for proto, want := range map[string]string{
				"/plaintext/2.0.0": "na", "/noise": "na", "/tls/1.0.0": "/tls/1.0.0",
			} {
				got, err := p2pSecurityAnswer(nd, proto)
				if err != nil {
					t.Fatalf("%s: %s: %v", nd.Name, proto, err)
				}
				if got != want {
					t.Errorf("%s answered %q to %s, want %q", nd.Name, got, proto, want)
				}
			}
		}
	})

	t.Run("peer IDs bound", func(t *testing.T) { checkPeerIDsBound(t, ctx, nodes) })

	t.Run("foreign CA refused", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(caCert)
		foreign := foreignIdentity(t)
		for _, nd := range nodes {
			for _, stream := range []byte{'R', 'G'} {
				for _, certs := range [][]tls.Certificate{{foreign}, nil} {
					conn, err := net.DialTimeout("tcp", raftAddr(nd), 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					_, _ = conn.Write(rawPreamble(t, stream, tok))
					tc := tls.Client(conn, &tls.Config{
						MinVersion: tls.VersionTLS13, RootCAs: pool,
						ServerName: pki.ServerName(tok.Cluster), Certificates: certs,
					})
					_ = tc.SetDeadline(time.Now().Add(8 * time.Second))
					err = tc.Handshake()
					if err == nil { // TLS 1.3: the server's verdict arrives on the first read
						_, _ = tc.Write([]byte("hello"))
						_, err = tc.Read(make([]byte, 1))
					}
					if err == nil || isTimeout(err) {
						t.Errorf("%s stream %c with %d foreign certs: accepted (%v)", nd.Name, stream, len(certs), err)
					}
					tc.Close()
				}
			}
		}
	})

	t.Run("join proof", func(t *testing.T) {
		bad, err := pki.NewToken(tok.Cluster, tok.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		conn := dialJoinStream(t, ctx, nodes[0], tok)
		if _, err := pki.Join(ctx, conn, bad, "intruder", nil); !errors.Is(err, pki.ErrJoinRefused) {
			t.Fatalf("join with a wrong secret: %v, want ErrJoinRefused", err)
		}
		other, _ := pki.NewCA("cassnet")
		pinned := tok
		pinned.Fingerprint = pki.Fingerprint(other.Cert)
		conn = dialJoinStream(t, ctx, nodes[0], tok)
		if _, err := pki.Join(ctx, conn, pinned, "intruder", nil); err == nil {
			t.Fatal("join accepted a seed whose CA does not match the pinned fingerprint")
		}
	})

	t.Run("wrong token cannot join", func(t *testing.T) {
		bad, err := pki.NewToken(tok.Cluster, tok.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		intruder := startIntruder(t, c, nodes[0], "n9", "127.0.0.9", bad.String())
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, nd := range nodes {
				resp, err := cl.Do(ctx, http.MethodGet, nd.HTTPAddr(), "/v1/members", nil)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(resp.Body), `"n9"`) {
					t.Fatalf("%s lists the intruder: %s", nd.Name, resp.Body)
				}
			}
			time.Sleep(time.Second)
		}
		if _, err := os.Stat(filepath.Join(intruder.DataDir, "tls", pki.CertFile)); err == nil {
			t.Fatal("the intruder obtained a node certificate")
		}
	})
}

// rawPreamble is the Raft port's preamble for stream, keyed (as the node
// keys it) by the CA fingerprint.
func rawPreamble(t *testing.T, stream byte, tok pki.Token) []byte {
	t.Helper()
	tag, err := consensus.PreambleTag(hex.EncodeToString(tok.Fingerprint[:]))
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{stream}, tag...)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	der, err := pki.DecodeCertPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// startIntruder starts an agent that joins through seed with token.
func startIntruder(t *testing.T, c *Cluster, seed *Node, name, ip, token string) *Node {
	t.Helper()
	ports, err := FreePorts(ip)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(c.cfg.Dir, name)
	n := &Node{Name: name, IP: ip, Ports: ports, bin: c.cfg.Bin, DataDir: dir, logPath: dir + ".log"}
	args := []string{
		"--name", name, "--data-dir", dir, "--bind", ip,
		"--gossip-port", strconv.Itoa(ports.Gossip), "--raft-port", strconv.Itoa(ports.Raft),
		"--p2p-port", strconv.Itoa(ports.P2P), "--grpc-port", strconv.Itoa(ports.GRPC),
		"--http-port", strconv.Itoa(ports.HTTP), "--join", seed.GossipAddr(), "--token", token,
	}
	if err := n.start(args); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Kill() })
	return n
}
