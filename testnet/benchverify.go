package testnet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// verifyLoad drives the session-verification phase: Clients keep-alive
// HTTP/1.1 connections to one node, each sending the same request back to
// back and checking that every answer is a 200 whose body says
// "valid":true.
//
// It does not go through http.Client: on this 2-CPU machine the load
// generator shares the cores with the node it measures, and the client's
// per-request machinery (a goroutine and a timer for Client.Timeout, the
// header copier kept for redirects, the Transport's read and write loops
// handing every response over channels, a json.Marshal and a URL parse
// per call) cost more CPU than the node spends answering. A connection
// here is a net.Conn and a bufio.Reader owned by one client goroutine:
// the request is the bytes http.Request.Write produced once (the same
// bytes the Transport sends), and each response is parsed by
// http.ReadResponse. The node sees exactly the requests it saw before.
//
// Concurrency: verify(ctx, client, seq) is called by RunLoad's client
// goroutines, each with its own client index; a connection is used by
// its client alone.
type verifyLoad struct {
	addr    string
	request []byte
	conns   []*verifyConn
}

// verifyConn is one client's connection and buffers.
type verifyConn struct {
	conn     net.Conn
	br       *bufio.Reader
	body     []byte
	deadline time.Time
}

// verifyTimeout bounds one request, as the load client's Timeout does.
const verifyTimeout = 15 * time.Second

// maxVerifyAnswer bounds the body read from one answer.
const maxVerifyAnswer = 64 << 10

// verifyValid is what every answer's body must contain.
var verifyValid = []byte(`"valid":true`)

// newVerifyLoad prepares clients connections (dialled on first use) that
// POST {"token": token} to /v1/sessions/verify on addr with bearer
// credential cred.
func newVerifyLoad(addr, cred, token string, clients int) (*verifyLoad, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/sessions/verify", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", "application/json")
	var raw bytes.Buffer
	if err := req.Write(&raw); err != nil {
		return nil, err
	}
	l := &verifyLoad{addr: addr, request: raw.Bytes(), conns: make([]*verifyConn, clients)}
	for i := range l.conns {
		l.conns[i] = &verifyConn{body: make([]byte, 0, 512)}
	}
	return l, nil
}

// verify is RunLoad's Op: one verification on client's connection.
func (l *verifyLoad) verify(ctx context.Context, client, _ int) error {
	c := l.conns[client]
	err := c.roundTrip(ctx, l.addr, l.request)
	if err != nil {
		c.close()
		if _, ok := err.(*StatusError); !ok {
			err = &url.Error{Op: "Post", URL: "http://" + l.addr + "/v1/sessions/verify", Err: err}
		}
	}
	return err
}

func (c *verifyConn) roundTrip(ctx context.Context, addr string, request []byte) error {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		c.conn, c.br, c.deadline = conn, bufio.NewReader(conn), time.Time{}
	}
	// One deadline a second, not a timer reset per request: a request
	// still gets between 14 and 15 s.
	if now := time.Now(); now.Add(verifyTimeout - time.Second).After(c.deadline) {
		c.deadline = now.Add(verifyTimeout)
		if err := c.conn.SetDeadline(c.deadline); err != nil {
			return err
		}
	}
	if _, err := c.conn.Write(request); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	body, err := c.readBody(resp)
	if err != nil {
		return err
	}
	if resp.Close {
		c.close()
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, verifyValid) {
		return &StatusError{Status: resp.StatusCode, Body: string(body)}
	}
	return nil
}

// readBody reads resp's whole body into c.body (at most
// maxVerifyAnswer bytes) and closes it.
func (c *verifyConn) readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b := c.body[:0]
	for {
		if len(b) == cap(b) {
			if len(b) >= maxVerifyAnswer {
				return nil, fmt.Errorf("answer longer than %d bytes", maxVerifyAnswer)
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			c.body = b[:0]
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *verifyConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// close closes every connection. Call it after RunLoad has returned.
func (l *verifyLoad) close() {
	for _, c := range l.conns {
		c.close()
	}
}
