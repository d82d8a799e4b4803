package pki

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxFrame bounds one join message; a CSR or certificate is well under.
const maxFrame = 16 << 10

// joinHello is the server's first message: a fresh nonce.
type joinHello struct {
	Nonce []byte `json:"nonce"`
}

// joinRequest is the joiner's CSR and its proof of the join secret.
type joinRequest struct {
	CSR   []byte `json:"csr"`   // DER
	Proof []byte `json:"proof"` // see proof()
	// KeysOnly asks only for the gossip keyring (a node with an
	// operator-issued certificate, which it must present).
	KeysOnly bool `json:"keys_only,omitempty"`
}

// joinResponse carries the signed certificate, or an error.
type joinResponse struct {
	Error string `json:"error,omitempty"`
	Cert  []byte `json:"cert,omitempty"` // DER, signed node certificate
	CA    []byte `json:"ca,omitempty"`   // DER, cluster CA certificate
	// GossipKeys are the cluster's gossip encryption keys, primary first.
	GossipKeys [][]byte `json:"gossip_keys,omitempty"`
	// CAKey is the CA private key (PKCS#8 DER), sent to a newly joined
	// node by a seed whose JoinServer.ShareCAKey is set, so that the
	// joiner can issue too (issuing survives the loss of the bootstrap
	// node). Never sent on renewals or keys-only requests.
	CAKey []byte `json:"ca_key,omitempty"`
}

// writeFrame writes v as a 4-byte big-endian length and JSON.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("pki: encode join message: %w", err)
	}
	if len(b) > maxFrame {
		return errors.New("pki: join message too large")
	}
	buf := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	if _, err := w.Write(append(buf, b...)); err != nil {
		return fmt.Errorf("pki: send join message: %w", err)
	}
	return nil
}

// readFrame reads one frame into v. It reads network input: the length is
// bounded before anything is allocated and unknown fields are refused.
func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("pki: read join message: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxFrame {
		return fmt.Errorf("pki: join message length %d out of range", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("pki: read join message: %w", err)
	}
	return decodeFrame(b, v)
}

func decodeFrame(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("pki: decode join message: %w", err)
	}
	if dec.More() {
		return errors.New("pki: trailing data in join message")
	}
	return nil
}
