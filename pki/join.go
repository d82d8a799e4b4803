package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// joinTimeout bounds a whole join exchange on either side.
const joinTimeout = 10 * time.Second

const (
	exporterLabel = "EXPORTER-cassnet-join-v1"
	nonceLen      = 32
	maxGossipKeys = 8
)

// ErrJoinRefused is returned to a joiner whose proof matched no valid
// join secret.
var ErrJoinRefused = errors.New("pki: join refused")

// bytesReader avoids importing bytes in wire.go's callers.
func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// SecretHash is what servers keep of a join secret (and what is
// replicated): its SHA-256. The proof is keyed by it, so no node needs
// the secret itself to check a join.
func SecretHash(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return sum[:]
}

// proof binds the join secret (by its hash) to the server's nonce and to
// this TLS session (RFC 5705 exporter), so a proof cannot be replayed or
// relayed to another connection.
func proof(secretHash, nonce, exported []byte) []byte {
	mac := hmac.New(sha256.New, secretHash)
	mac.Write([]byte("cassnet join proof v1"))
	mac.Write(nonce)
	mac.Write(exported)
	return mac.Sum(nil)
}

// JoinServer answers join requests: it checks the joiner's proof against
// every currently valid join secret and signs its CSR with the CA. A
// renewal (the client presents its current, CA-verified certificate and
// asks for the same node name) needs no secret, so revoking the join
// token a node joined with does not stop its renewals.
type JoinServer struct {
	// CA must hold its key.
	CA *CA
	// SecretHashes returns SecretHash of every join secret currently
	// accepted. It is called once per request and must be safe for
	// concurrent use.
	SecretHashes func() [][]byte
	// GossipKeys returns the gossip keyring to hand out, primary first
	// (nil: none).
	GossipKeys func() [][]byte
	// Lifetime of issued certificates (default DefaultCertLifetime).
	Lifetime time.Duration
	// ShareCAKey sends the CA private key with a join's certificate (not
	// with a renewal), so that every joined node holds it and can issue.
	ShareCAKey bool
	Logger     *slog.Logger
}

// Serve runs one join exchange on conn, which has completed (or will
// complete) a TLS handshake as the server, and closes it.
func (s *JoinServer) Serve(ctx context.Context, conn *tls.Conn) error {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("pki: join handshake: %w", err)
	}
	cs := conn.ConnectionState()
	exported, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		return fmt.Errorf("pki: exporter: %w", err)
	}
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("pki: nonce: %w", err)
	}
	if err := writeFrame(conn, joinHello{Nonce: nonce}); err != nil {
		return err
	}
	var req joinRequest
	if err := readFrame(conn, &req); err != nil {
		return err
	}
	if req.KeysOnly {
		if len(cs.VerifiedChains) == 0 {
			_ = writeFrame(conn, joinResponse{Error: "join refused: a keys-only request needs a cluster certificate"})
			return ErrJoinRefused
		}
		resp := joinResponse{CA: s.CA.Cert.Raw}
		if s.GossipKeys != nil {
			resp.GossipKeys = s.GossipKeys()
		}
		return writeFrame(conn, resp)
	}
	if s.CA.Key == nil {
		return errors.New("pki: this node holds no CA key and cannot issue") // closed: the joiner tries another seed
	}
	csr, err := x509.ParseCertificateRequest(req.CSR)
	if err != nil {
		_ = writeFrame(conn, joinResponse{Error: "bad certificate request"})
		return fmt.Errorf("pki: parse csr: %w", err)
	}
	renewal := len(cs.VerifiedChains) > 0 && cs.PeerCertificates[0].Subject.CommonName == csr.Subject.CommonName
	if !renewal {
		ok := 0
		for _, h := range s.SecretHashes() {
			ok |= subtle.ConstantTimeCompare(proof(h, nonce, exported), req.Proof)
		}
		if ok != 1 {
			_ = writeFrame(conn, joinResponse{Error: "join refused: invalid, expired or revoked join token"})
			return ErrJoinRefused
		}
	}
	cert, err := s.CA.Sign(csr, s.Lifetime)
	if err != nil {
		_ = writeFrame(conn, joinResponse{Error: "cannot sign the certificate request"})
		return err
	}
	if s.Logger != nil {
		s.Logger.Info("issued a node certificate", "node", csr.Subject.CommonName,
			"remote", conn.RemoteAddr().String(), "expires", cert.NotAfter)
	}
	resp := joinResponse{Cert: cert.Raw, CA: s.CA.Cert.Raw}
	if s.GossipKeys != nil {
		resp.GossipKeys = s.GossipKeys()
	}
	if s.ShareCAKey && !renewal {
		if resp.CAKey, err = x509.MarshalPKCS8PrivateKey(s.CA.Key); err != nil {
			return fmt.Errorf("pki: encode CA key: %w", err)
		}
	}
	return writeFrame(conn, resp)
}

// Joined is what a successful join delivers.
type Joined struct {
	// CA is the cluster CA: its certificate, and its key if the seed
	// shared it (JoinServer.ShareCAKey).
	CA   *CA
	Cert *x509.Certificate
	Key  crypto.Signer
	// GossipKeys is the cluster's gossip keyring, primary first.
	GossipKeys [][]byte
}

// Join runs the joiner's side over raw, a connection to a seed's join
// stream: it pins the CA from tok, proves tok's secret, and sends a CSR
// for name and ips. raw is closed when Join returns.
func Join(ctx context.Context, raw net.Conn, tok Token, name string, ips []net.IP) (*Joined, error) {
	return JoinPeer(ctx, raw, tok, name, ips, "")
}

// JoinPeer is Join for a certificate that also binds the node's libp2p
// peerID (see PeerURI).
func JoinPeer(ctx context.Context, raw net.Conn, tok Token, name string, ips []net.IP, peerID string) (*Joined, error) {
	conf := PinnedClientConfig(tok.Cluster, tok.Fingerprint)
	return exchange(ctx, raw, conf, tok, SecretHash(tok.Secret), name, ips, peerID)
}

// Renew is Join for a node that holds a valid certificate: it presents
// id's certificate instead of proving a join secret, and asks for a new
// certificate for the same name.
func Renew(ctx context.Context, raw net.Conn, id *Identity, ips []net.IP) (*Joined, error) {
	return RenewPeer(ctx, raw, id, ips, "")
}

// RenewPeer is Renew for a certificate that also binds peerID.
func RenewPeer(ctx context.Context, raw net.Conn, id *Identity, ips []net.IP, peerID string) (*Joined, error) {
	tok := Token{Cluster: id.CA.Cluster, Fingerprint: Fingerprint(id.CA.Cert)}
	conf := PinnedClientConfig(tok.Cluster, tok.Fingerprint)
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return id.get() }
	return exchange(ctx, raw, conf, tok, nil, id.Leaf().Subject.CommonName, ips, peerID)
}

func exchange(ctx context.Context, raw net.Conn, conf *tls.Config, tok Token, secretHash []byte, name string, ips []net.IP, peerID string) (*Joined, error) {
	defer raw.Close()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	_ = raw.SetDeadline(dl)
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("pki: join tls: %w", err)
	}
	cs := conn.ConnectionState()
	caCert, err := pinnedCA(cs.PeerCertificates, tok.Cluster, tok.Fingerprint)
	if err != nil {
		return nil, err
	}
	exported, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("pki: exporter: %w", err)
	}
	var hello joinHello
	if err := readFrame(conn, &hello); err != nil {
		return nil, err
	}
	if len(hello.Nonce) != nonceLen {
		return nil, errors.New("pki: seed sent a bad nonce")
	}
	csr, key, err := NewNodeCSR(name, ips, peerID)
	if err != nil {
		return nil, err
	}
	var pr []byte
	if secretHash != nil {
		pr = proof(secretHash, hello.Nonce, exported)
	}
	if err := writeFrame(conn, joinRequest{CSR: csr.Raw, Proof: pr}); err != nil {
		return nil, err
	}
	var resp joinResponse
	if err := readFrame(conn, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("%w: %s", ErrJoinRefused, resp.Error)
	}
	cert, err := x509.ParseCertificate(resp.Cert)
	if err != nil {
		return nil, fmt.Errorf("pki: parse issued certificate: %w", err)
	}
	if !bytes.Equal(resp.CA, caCert.Raw) {
		return nil, errors.New("pki: seed returned a different CA than it presented")
	}
	if peerID != "" {
		if got, err := PeerIDOf(cert); err != nil || got != peerID {
			return nil, errors.New("pki: the issued certificate does not bind this node's peer ID")
		}
	}
	ca := &CA{Cert: caCert, Cluster: tok.Cluster}
	if _, err := NewIdentity(ca, cert, key); err != nil {
		return nil, err
	}
	if len(resp.GossipKeys) > maxGossipKeys {
		return nil, errors.New("pki: seed sent too many gossip keys")
	}
	for _, k := range resp.GossipKeys {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return nil, errors.New("pki: seed sent a gossip key of a bad size")
		}
	}
	if len(resp.CAKey) > 0 {
		if ca.Key, err = parseCAKey(resp.CAKey, caCert); err != nil {
			return nil, err
		}
	}
	return &Joined{CA: ca, Cert: cert, Key: key, GossipKeys: resp.GossipKeys}, nil
}

// parseCAKey checks that der is the private key of caCert.
func parseCAKey(der []byte, caCert *x509.Certificate) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse shared CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: shared CA key is not a signing key")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(caCert.PublicKey) {
		return nil, errors.New("pki: the seed's shared CA key does not match the CA certificate")
	}
	return signer, nil
}
