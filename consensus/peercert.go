package consensus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// PeerCertificate completes a TLS handshake on the RPC stream of the
// Raft/RPC port at addr with conf (a node's client configuration, which
// verifies the server against the cluster CA and presents this node's
// certificate), then closes the connection and returns the server's
// verified leaf certificate. preambleKey is Config.JoinToken's value.
// Nothing is sent on the stream: it exists to learn what a member's
// CA-signed certificate says (for example the libp2p peer ID it binds).
func PeerCertificate(ctx context.Context, addr, preambleKey string, conf *tls.Config) (*x509.Certificate, error) {
	if conf == nil {
		return nil, errors.New("peer certificate: no tls configuration")
	}
	tag, err := rpcAuthKey(preambleKey)
	if err != nil {
		return nil, err
	}
	timeout := dialTimeout(ctx)
	conn, err := dialStream(addr, streamRPC, tag, conf, timeout)
	if err != nil {
		return nil, fmt.Errorf("peer certificate: %w", err)
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.New("peer certificate: not a tls connection")
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return nil, fmt.Errorf("peer certificate: %s presented no verified certificate", addr)
	}
	return cs.PeerCertificates[0], nil
}
