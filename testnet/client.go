package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client calls a node's REST API with an operator token.
type Client struct {
	Token string
	HTTP  *http.Client
}

// NewClient returns a client with sane time-outs.
func NewClient(token string) *Client {
	return &Client{Token: token, HTTP: &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0},
	}}
}

// Response is a decoded REST response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d response %q: %w", r.Status, r.Body, err)
	}
	return nil
}

// RawBody is a request body Do sends as it is, as
// application/octet-stream, instead of encoding it as JSON.
type RawBody []byte

// Do sends one request to the node at addr (host:port).
func (c *Client) Do(ctx context.Context, method, addr, path string, body any) (*Response, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case RawBody:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// RaftInfo is the subset of GET /v1/cluster/raft the harness reads.
type RaftInfo struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	AppliedIndex uint64 `json:"applied_index"`
	StateHash    string `json:"state_hash"`
	// StateVersion is the replicated state version (0 from nodes before it).
	StateVersion uint32 `json:"state_version"`
	Servers      []struct {
		ID       string `json:"id"`
		Address  string `json:"address"`
		Suffrage string `json:"suffrage"`
	} `json:"servers"`
}

// Raft fetches a node's raft status.
func (c *Client) Raft(ctx context.Context, n *Node) (RaftInfo, error) {
	var info RaftInfo
	resp, err := c.Do(ctx, http.MethodGet, n.HTTPAddr(), "/v1/cluster/raft", nil)
	if err != nil {
		return info, err
	}
	if resp.Status != http.StatusOK {
		return info, fmt.Errorf("%s: /v1/cluster/raft: %d %s", n.Name, resp.Status, resp.Body)
	}
	return info, resp.JSON(&info)
}

// WaitFor polls cond every 100 ms until it returns nil or ctx ends, and
// returns the last error.
func WaitFor(ctx context.Context, cond func() error) error {
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
