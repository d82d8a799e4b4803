package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cassandranet/cassnet/pki"
)

const tlsUsage = `Usage: cassnet tls ca create [--cluster NAME] [--dir DIR]
       cassnet tls cert create --node NAME [--ca FILE --ca-key FILE] [--ip IP]... [--peer-id ID] [--lifetime D] [--dir DIR]
       cassnet tls client create --api-key ID [--ca FILE --ca-key FILE] [--lifetime D] [--dir DIR]

Writes PEM files for operators who run their own PKI, in the style of
"consul tls". ca create writes <cluster>-ca.pem and <cluster>-ca-key.pem
(mode 0600) and prints the CA's SHA-256 fingerprint (what join tokens
pin). cert create signs a node certificate (SANs: the node name,
server.<cluster>.cassnet, the --ip addresses and, with --peer-id, the
URI urn:cassnet:peer:<ID> binding the node's libp2p peer ID) into
<node>.pem and <node>-key.pem. Without --peer-id the node runs, but other
nodes refuse its libp2p (pubsub) connections; the agent logs the peer ID
its DATA/p2p-key gives it. To bootstrap a cluster on this CA, copy the two CA files
to DATA/tls/ca.pem and DATA/tls/ca-key.pem before the first --bootstrap.

client create signs a client certificate for a service (the streaming
protocol's mTLS credential, docs/pubsub.md): it binds the API key with
id ID (URI urn:cassnet:api-key:<ID>) and grants what that key grants,
while the key is active. Sign it with the cluster's CA (a node's
DATA/tls/ca.pem and ca-key.pem); it writes api-key-<ID>.pem and
api-key-<ID>-key.pem.`

// runTLS dispatches "cassnet tls ca|cert create".
func runTLS(args []string) error {
	if len(args) < 2 || args[1] != "create" || (args[0] != "ca" && args[0] != "cert" && args[0] != "client") {
		fmt.Fprintln(os.Stderr, tlsUsage)
		return errors.New("tls: expected 'ca create', 'cert create' or 'client create'")
	}
	fs := flag.NewFlagSet("tls "+args[0]+" create", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, tlsUsage)
	dir := fs.String("dir", ".", "directory to write the PEM files to")
	cluster := fs.String("cluster", "cassnet", "cluster name (ca create)")
	node := fs.String("node", "", "node name (cert create; required)")
	caFile := fs.String("ca", "cassnet-ca.pem", "CA certificate (cert create)")
	caKey := fs.String("ca-key", "cassnet-ca-key.pem", "CA private key (cert create)")
	lifetime := fs.Duration("lifetime", pki.DefaultCertLifetime, "certificate lifetime (cert create; client create defaults to 90 days)")
	apiKey := fs.String("api-key", "", "the API key id the client certificate binds (client create; required)")
	peerID := fs.String("peer-id", "", "the node's libp2p peer ID to bind (cert create; without it other nodes refuse the node's libp2p connections; the agent logs its peer ID)")
	var ips ipList
	fs.Var(&ips, "ip", "an IP address the certificate names (repeatable; cert create)")
	if _, err := parseWithEnv(fs, args[2:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if args[0] == "ca" {
		ca, err := pki.NewCA(*cluster)
		if err != nil {
			return err
		}
		kb, err := pki.EncodeKey(ca.Key)
		if err != nil {
			return err
		}
		certPath := filepath.Join(*dir, *cluster+"-ca.pem")
		keyPath := filepath.Join(*dir, *cluster+"-ca-key.pem")
		if err := writeNew(keyPath, kb); err != nil {
			return err
		}
		if err := writeNew(certPath, pki.EncodeCert(ca.Cert)); err != nil {
			return err
		}
		fp := pki.Fingerprint(ca.Cert)
		fmt.Fprintf(os.Stderr, "wrote %s and %s\n", certPath, keyPath)
		fmt.Println(hex.EncodeToString(fp[:]))
		return nil
	}
	if args[0] == "client" {
		if !lifetimeSet(fs) {
			*lifetime = pki.DefaultClientCertLifetime
		}
		return createClientCert(*dir, *caFile, *caKey, *apiKey, *lifetime)
	}
	if *node == "" {
		return errors.New("--node is required")
	}
	cert, err := pki.ReadCert(*caFile)
	if err != nil {
		return err
	}
	key, err := pki.ReadKey(*caKey)
	if err != nil {
		return err
	}
	cl, err := pki.ClusterOf(cert)
	if err != nil {
		return err
	}
	ca := &pki.CA{Cert: cert, Key: key, Cluster: cl}
	csr, nodeKey, err := pki.NewNodeCSR(*node, ips, *peerID)
	if err != nil {
		return err
	}
	leaf, err := ca.Sign(csr, *lifetime)
	if err != nil {
		return err
	}
	kb, err := pki.EncodeKey(nodeKey)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(*dir, *node+"-key.pem"), kb); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(*dir, *node+".pem"), pki.EncodeCert(leaf)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s.pem and %s-key.pem (expires %s)\n", *node, *node, leaf.NotAfter.Format(time.RFC3339))
	return nil
}

// writeNew writes a 0600 file and refuses to overwrite one.
func writeNew(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; not overwriting it", path)
	}
	return pki.WritePEM(path, data)
}

// ipList is a repeatable --ip flag.
type ipList []net.IP

func (l *ipList) String() string {
	s := make([]string, len(*l))
	for i, ip := range *l {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func (l *ipList) Set(v string) error {
	ip := net.ParseIP(v)
	if ip == nil {
		return fmt.Errorf("not an IP address: %q", v)
	}
	*l = append(*l, ip)
	return nil
}

func lifetimeSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "lifetime" })
	return set
}

// createClientCert writes a new key and a client certificate binding the
// API key keyID, signed by the CA in caFile and caKey.
func createClientCert(dir, caFile, caKey, keyID string, lifetime time.Duration) error {
	if keyID == "" {
		return errors.New("--api-key is required")
	}
	cert, err := pki.ReadCert(caFile)
	if err != nil {
		return err
	}
	key, err := pki.ReadKey(caKey)
	if err != nil {
		return err
	}
	cl, err := pki.ClusterOf(cert)
	if err != nil {
		return err
	}
	ca := &pki.CA{Cert: cert, Key: key, Cluster: cl}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf, err := ca.SignClient(&priv.PublicKey, keyID, lifetime)
	if err != nil {
		return err
	}
	kb, err := pki.EncodeKey(priv)
	if err != nil {
		return err
	}
	name := "api-key-" + keyID
	if err := writeNew(filepath.Join(dir, name+"-key.pem"), kb); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, name+".pem"), pki.EncodeCert(leaf)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s.pem and %s-key.pem (expires %s)\n", name, name, leaf.NotAfter.Format(time.RFC3339))
	return nil
}
