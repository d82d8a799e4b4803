package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// PeerURIPrefix starts the URI SAN that binds a node certificate to the
// node's libp2p peer ID: urn:cassnet:peer:<peer ID>. Nodes admit a libp2p
// peer only if a CA-verified certificate of an alive member binds its
// peer ID (see docs/security.md).
const PeerURIPrefix = "urn:cassnet:peer:"

// ErrNoPeerID is returned by PeerIDOf for a certificate binding no peer ID.
var ErrNoPeerID = errors.New("pki: certificate binds no libp2p peer ID")

// PeerURI is the URI SAN binding peerID.
func PeerURI(peerID string) (*url.URL, error) {
	if err := validPeerID(peerID); err != nil {
		return nil, err
	}
	u, err := url.Parse(PeerURIPrefix + peerID)
	if err != nil {
		return nil, fmt.Errorf("pki: peer uri: %w", err)
	}
	return u, nil
}

// parsePeerURI returns the peer ID a URI SAN binds, or "" if u is not a
// peer URI.
func parsePeerURI(u *url.URL) (string, error) {
	s := u.String()
	if !strings.HasPrefix(s, PeerURIPrefix) {
		return "", nil
	}
	id := s[len(PeerURIPrefix):]
	if err := validPeerID(id); err != nil {
		return "", err
	}
	return id, nil
}

// PeerIDOf returns the libp2p peer ID cert binds. The certificate must
// carry exactly one peer URI SAN. It does not verify cert: callers read
// it only from a chain verified against the cluster CA.
func PeerIDOf(cert *x509.Certificate) (string, error) {
	return peerIDOfURIs(cert.URIs)
}

func peerIDOfURIs(uris []*url.URL) (string, error) {
	found := ""
	for _, u := range uris {
		id, err := parsePeerURI(u)
		if err != nil {
			return "", err
		}
		if id == "" {
			continue
		}
		if found != "" {
			return "", errors.New("pki: certificate binds more than one peer ID")
		}
		found = id
	}
	if found == "" {
		return "", ErrNoPeerID
	}
	return found, nil
}

// validPeerID accepts the textual forms of a libp2p peer ID (base58btc
// multihash or a base32 CIDv1): 1-128 ASCII letters and digits. Whether
// it decodes is for libp2p to say; this keeps the SAN well-formed.
func validPeerID(s string) error {
	if len(s) == 0 || len(s) > 128 {
		return errors.New("pki: peer ID must be 1-128 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("pki: peer ID %q has a character outside [A-Za-z0-9]", s)
		}
	}
	return nil
}
