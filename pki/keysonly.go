package pki

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// FetchGossipKeys asks a seed for the gossip keyring only, presenting id's
// certificate (which may come from an operator-run CA, see
// `cassnet tls cert create`). raw is a connection to the seed's join
// stream; it is closed when FetchGossipKeys returns.
func FetchGossipKeys(ctx context.Context, raw net.Conn, id *Identity) ([][]byte, error) {
	defer raw.Close()
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	_ = raw.SetDeadline(dl)
	conf := PinnedClientConfig(id.CA.Cluster, Fingerprint(id.CA.Cert))
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return id.get() }
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("pki: join tls: %w", err)
	}
	var hello joinHello
	if err := readFrame(conn, &hello); err != nil {
		return nil, err
	}
	if err := writeFrame(conn, joinRequest{KeysOnly: true}); err != nil {
		return nil, err
	}
	var resp joinResponse
	if err := readFrame(conn, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("%w: %s", ErrJoinRefused, resp.Error)
	}
	if len(resp.GossipKeys) == 0 || len(resp.GossipKeys) > maxGossipKeys {
		return nil, errors.New("pki: seed sent no usable gossip keyring")
	}
	for _, k := range resp.GossipKeys {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return nil, errors.New("pki: seed sent a gossip key of a bad size")
		}
	}
	return resp.GossipKeys, nil
}
