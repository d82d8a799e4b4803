package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// clientFlags are shared by the commands that talk to a running node.
type clientFlags struct {
	addr    string
	token   string
	dataDir string
	caFile  string // set: HTTPS, trusting this CA
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "http-addr", "127.0.0.1:8080", "the node's REST address")
	fs.StringVar(&c.token, "token", "", "an operator token (default: the data dir's admin-token file)")
	fs.StringVar(&c.dataDir, "data-dir", "", "read the admin token from this data dir")
	fs.StringVar(&c.caFile, "ca-file", "", "use HTTPS (agent --http-tls), trusting this CA certificate (DATA/tls/ca.pem)")
}

func (c *clientFlags) do(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	ctype := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	resp, err := c.send(method, path, rd, ctype, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// send makes one request with the operator token; the caller reads and
// closes the body.
func (c *clientFlags) send(method, path string, body io.Reader, ctype string, timeout time.Duration) (*http.Response, error) {
	token := c.token
	if token == "" && c.dataDir != "" {
		b, err := os.ReadFile(filepath.Join(c.dataDir, "admin-token"))
		if err != nil {
			return nil, fmt.Errorf("read admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	scheme, hc := "http://", &http.Client{Timeout: timeout}
	if c.caFile != "" {
		pemBytes, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", c.caFile)
		}
		scheme = "https://"
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}}
	}
	req, err := http.NewRequest(method, scheme+c.addr+path, body)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return hc.Do(req)
}

func runLeave(args []string) error {
	var c clientFlags
	fs := flag.NewFlagSet("leave", flag.ContinueOnError)
	fs.Usage = flagUsage(fs, "Usage: cassnet leave [flags]\n\nAsks a running node to leave the cluster gracefully and stop.")
	c.register(fs)
	if _, err := parseWithEnv(fs, args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if _, err := c.do(http.MethodPost, "/v1/agent/leave", nil); err != nil {
		return err
	}
	fmt.Println("leave started")
	return nil
}
