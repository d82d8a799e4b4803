package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

// httpCert serves the REST API's user-supplied certificate (--http-tls-cert
// and --http-tls-key). The files are read at start, where an unreadable
// or mismatched pair is an error, and again on a handshake when either
// file's modification time has changed, so a replaced certificate takes
// effect without a restart. A replacement that fails to load is logged
// and the previous certificate keeps being served.
type httpCert struct {
	certFile, keyFile string
	warn              func(msg string, args ...any)

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	lastStat        time.Time
}

// httpCertStatEvery bounds how often a handshake stats the files.
const httpCertStatEvery = time.Second

func loadHTTPCert(certFile, keyFile string, warn func(string, ...any)) (*httpCert, error) {
	h := &httpCert{certFile: certFile, keyFile: keyFile, warn: warn}
	cm, km, err := h.mtimes()
	if err != nil {
		return nil, err
	}
	c, err := readHTTPKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	h.cert, h.certMod, h.keyMod, h.lastStat = c, cm, km, time.Now()
	return h, nil
}

func (h *httpCert) mtimes() (cert, key time.Time, err error) {
	ci, err := os.Stat(h.certFile)
	if err != nil {
		return cert, key, fmt.Errorf("--http-tls-cert: %w", err)
	}
	ki, err := os.Stat(h.keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("--http-tls-key: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

// readHTTPKeyPair loads a PEM certificate (chain) and its private key and
// checks that they match and that the leaf is currently valid.
func readHTTPKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if _, err := os.ReadFile(certFile); err != nil {
		return nil, fmt.Errorf("--http-tls-cert: %w", err)
	}
	if _, err := os.ReadFile(keyFile); err != nil {
		return nil, fmt.Errorf("--http-tls-key: %w", err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--http-tls-cert %s / --http-tls-key %s: %w", certFile, keyFile, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--http-tls-cert %s: %w", certFile, err)
		}
		c.Leaf = leaf
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("--http-tls-cert %s expired at %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// get is the tls.Config GetCertificate of the REST listener.
func (h *httpCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.lastStat) >= httpCertStatEvery {
		h.lastStat = now
		cm, km, err := h.mtimes()
		if err == nil && (!cm.Equal(h.certMod) || !km.Equal(h.keyMod)) {
			c, err := readHTTPKeyPair(h.certFile, h.keyFile)
			if err == nil {
				h.cert, h.certMod, h.keyMod = c, cm, km
			} else if h.warn != nil {
				h.warn("reloading the REST certificate failed; serving the previous one", "err", err)
			}
		}
	}
	return h.cert, nil
}

// serverConfig serves the REST API with the user-supplied certificate.
func (h *httpCert) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, GetCertificate: h.get}
}

// httpTransport is how this node calls other members' REST API (the
// game-server API's cross-node requests) when this node uses a
// user-supplied REST certificate: a peer is accepted if its certificate is
// a cluster node certificate (as with ident.ClientConfig), or if it
// verifies for the dialled host (name or IP) against the system roots plus
// the certificates in this node's --http-tls-cert file (so a private CA's
// chain, or one self-signed certificate shared by every node, works).
func (h *httpCert) httpTransport(ident *pki.Identity) *http.Transport {
	base, roots := ident.ClientConfig(), h.roots()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{
				MinVersion:           tls.VersionTLS13,
				GetClientCertificate: base.GetClientCertificate,
				// VerifyConnection below checks the chain and the name
				// itself, against either trust source.
				InsecureSkipVerify: true,
				VerifyConnection: func(cs tls.ConnectionState) error {
					return verifyRESTPeer(cs, base, roots, host)
				},
			}
			if net.ParseIP(host) == nil {
				cfg.ServerName = host
			}
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conn := tls.Client(raw, cfg)
			if err := conn.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return conn, nil
		},
	}
}

func verifyRESTPeer(cs tls.ConnectionState, node *tls.Config, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	leaf, inter := cs.PeerCertificates[0], x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, errNode := leaf.Verify(x509.VerifyOptions{
		Roots: node.RootCAs, Intermediates: inter, DNSName: node.ServerName,
	})
	if errNode == nil {
		return nil
	}
	_, errUser := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	if errUser == nil {
		if errUser = leaf.VerifyHostname(host); errUser == nil {
			return nil
		}
	}
	return fmt.Errorf("REST certificate is neither a cluster node certificate (%v) nor trusted for %q (%v)", errNode, host, errUser)
}

// roots is the pool a peer's user-supplied REST certificate is checked
// against: the system roots plus every certificate in --http-tls-cert.
func (h *httpCert) roots() *x509.CertPool {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, der := range h.cert.Certificate {
		if c, err := x509.ParseCertificate(der); err == nil {
			roots.AddCert(c)
		}
	}
	return roots
}
