package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Client calls one node's REST API with one credential.
type Client struct {
	// Addr is host:port of the node's REST API.
	Addr string
	// Token is an operator token or API key.
	Token string
	// HTTPS with this client; nil means plain HTTP.
	HTTP   *http.Client
	scheme string
}

// APIError is the API's {"error":{"code","message"}} with its status.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// connFlags are the flags every command has.
type connFlags struct {
	addr, token, dataDir, caFile string
	json                         bool
}

// client builds the Client the flags describe.
func (f *connFlags) client() (*Client, error) {
	token := f.token
	if token == "" && f.dataDir != "" {
		b, err := os.ReadFile(filepath.Join(f.dataDir, "admin-token"))
		if err != nil {
			return nil, fmt.Errorf("read admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, errors.New("no credential: pass --token (or CASS_TOKEN) or --data-dir")
	}
	c := &Client{Addr: f.addr, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}, scheme: "http://"}
	if f.caFile != "" {
		pemBytes, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", f.caFile)
		}
		c.scheme = "https://"
		c.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}}
	}
	return c, nil
}

// Do sends one request. body, when not nil, is sent as JSON. The answer
// is decoded into out when out is not nil. A non-2xx answer is an
// *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	scheme := c.scheme
	if scheme == "" {
		scheme = "http://"
	}
	req, err := http.NewRequestWithContext(ctx, method, scheme+c.Addr+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(resp.Status)}
		}
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
	}
	return nil
}
