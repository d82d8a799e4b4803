package testnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// sseEvent is one Server-Sent Event read from a node.
type sseEvent struct {
	ID, Event string
	Data      []byte
	At        time.Time // when it was read
}

// sseMsg is the data of a message event.
type sseMsg struct {
	Origin      string    `json:"origin"`
	Epoch       string    `json:"epoch"`
	Seq         uint64    `json:"seq"`
	Payload     string    `json:"payload"`
	PublishedAt time.Time `json:"published_at"`
}

// sseStream reads a node's event stream in a goroutine it owns.
type sseStream struct {
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// openSSE subscribes on addr and returns once the node has subscribed.
func openSSE(ctx context.Context, addr, cred, path, lastID string) (*sseStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("subscribe %s: %d %s", path, resp.StatusCode, b)
	}
	s := &sseStream{events: make(chan sseEvent, 1<<16), cancel: cancel, done: make(chan struct{})}
	ready := make(chan struct{})
	go s.read(resp.Body, ready)
	select {
	case <-ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("stream ended before it was ready")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *sseStream) read(body io.ReadCloser, ready chan struct{}) {
	defer close(s.done)
	defer close(s.events)
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 256<<10), 1<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if cur.Event != "" {
				cur.At = time.Now()
				s.events <- cur
			}
			cur = sseEvent{}
		case bytes.HasPrefix(line, []byte(": subscribed")):
			close(ready)
		case bytes.HasPrefix(line, []byte("id: ")):
			cur.ID = string(line[4:])
		case bytes.HasPrefix(line, []byte("event: ")):
			cur.Event = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			cur.Data = append([]byte(nil), line[6:]...)
		}
	}
}

// close ends the stream as a client disconnect would.
func (s *sseStream) close() {
	s.cancel()
	<-s.done
}
