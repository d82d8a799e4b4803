package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside a node's TLS directory (DataDir/tls).
const (
	CAFile      = "ca.pem"
	CAKeyFile   = "ca-key.pem"
	CertFile    = "node.pem"
	CertKeyFile = "node-key.pem"
)

// EncodeCert returns cert as a PEM block.
func EncodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodeKey returns key as a PKCS#8 PEM block.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// DecodeCertPEM returns the DER bytes of the first PEM certificate in b.
func DecodeCertPEM(b []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("pki: no PEM certificate")
	}
	return blk.Bytes, nil
}

// ReadCert reads the first certificate of a PEM file.
func ReadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s holds no PEM certificate", filepath.Base(path))
	}
	return x509.ParseCertificate(blk.Bytes)
}

// ReadKey reads a PKCS#8 PEM private key.
func ReadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("pki: %s holds no PEM key", filepath.Base(path))
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parse %s: %w", filepath.Base(path), err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %s is not a signing key", filepath.Base(path))
	}
	return s, nil
}

// WritePEM writes data to path with mode 0600 through a rename, so a
// crash never leaves a torn file.
func WritePEM(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// SaveCA writes the CA certificate and, if present, its key to dir.
func SaveCA(dir string, ca *CA) error {
	if ca.Key != nil {
		kb, err := EncodeKey(ca.Key)
		if err != nil {
			return err
		}
		if err := WritePEM(filepath.Join(dir, CAKeyFile), kb); err != nil {
			return err
		}
	}
	return WritePEM(filepath.Join(dir, CAFile), EncodeCert(ca.Cert))
}

// LoadCA reads the CA from dir; the key is optional. It returns
// fs.ErrNotExist (wrapped) when there is no CA certificate.
func LoadCA(dir string) (*CA, error) {
	cert, err := ReadCert(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, err
	}
	cluster, err := ClusterOf(cert)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Cluster: cluster}
	key, err := ReadKey(filepath.Join(dir, CAKeyFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		ca.Key = key
	}
	return ca, nil
}
