package testnet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Histogram collects latencies exactly: every sample is kept, and
// percentiles come from sorting them. It is not safe for concurrent use;
// give each load client its own and Merge them at the end.
type Histogram struct {
	samples []time.Duration
}

// Record adds one sample.
func (h *Histogram) Record(d time.Duration) { h.samples = append(h.samples, d) }

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) { h.samples = append(h.samples, o.samples...) }

// Count is the number of samples.
func (h *Histogram) Count() int { return len(h.samples) }

// Summary sorts the samples (in place) and summarises them. An empty
// histogram gives a zero Summary.
func (h *Histogram) Summary() Summary {
	n := len(h.samples)
	if n == 0 {
		return Summary{}
	}
	slices.Sort(h.samples)
	var sum time.Duration
	for _, d := range h.samples {
		sum += d
	}
	return Summary{
		Count: n,
		Min:   h.samples[0],
		Mean:  sum / time.Duration(n),
		P50:   percentile(h.samples, 0.50),
		P90:   percentile(h.samples, 0.90),
		P99:   percentile(h.samples, 0.99),
		Max:   h.samples[n-1],
	}
}

// percentile is the nearest-rank percentile of sorted samples: the
// smallest sample such that at least q of all samples are <= it.
func percentile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Summary describes a latency distribution.
type Summary struct {
	Count                         int
	Min, Mean, P50, P90, P99, Max time.Duration
}

// Op is one request of a load client. client is the client's index and
// seq counts its requests from 0. A nil error means the request counts as
// a success. RunLoad calls an Op concurrently for different clients but
// never concurrently for the same client.
type Op func(ctx context.Context, client, seq int) error

// LoadConfig shapes one closed-loop load run: Clients goroutines each
// issue requests back to back, first for Warmup (not measured), then for
// Duration (measured).
type LoadConfig struct {
	Clients          int
	Warmup, Duration time.Duration
}

// LoadResult is what one load run measured. Only requests that both began
// and ended inside the measured window count.
type LoadResult struct {
	Clients int
	Window  time.Duration
	// OK is the number of successful requests; Latency covers only them.
	OK      int
	Latency Summary
	// Errors counts failed requests by ErrorClass.
	Errors map[string]int
}

// PerSecond is the rate of successful requests over the window.
func (r LoadResult) PerSecond() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.OK) / r.Window.Seconds()
}

// ErrorCount is the total number of failed requests.
func (r LoadResult) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// StatusError is an HTTP answer with an unexpected status.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %.200s", e.Status, e.Body) }

// ErrorClass buckets err for LoadResult.Errors: "HTTP <status>",
// "timeout", "connection" or "other".
func ErrorClass(err error) string {
	var se *StatusError
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.As(err, &se):
		return "HTTP " + strconv.Itoa(se.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ue):
		return "connection"
	default:
		return "other"
	}
}

// loadClient is one client's private tally.
type loadClient struct {
	hist   Histogram
	errors map[string]int
}

// RunLoad runs op from cfg.Clients goroutines for cfg.Warmup+cfg.Duration
// and merges what they measured. Requests in flight when the window ends
// finish but are not counted. If ctx ends first, the partial result is
// returned with ctx's error.
func RunLoad(ctx context.Context, cfg LoadConfig, op Op) (LoadResult, error) {
	if cfg.Clients < 1 || cfg.Duration <= 0 {
		return LoadResult{}, fmt.Errorf("load: need at least one client and a positive duration")
	}
	begin := time.Now().Add(cfg.Warmup)
	end := begin.Add(cfg.Duration)
	clients := make([]loadClient, cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &clients[i]
		c.errors = map[string]int{}
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				start := time.Now()
				if !start.Before(end) {
					return
				}
				err := op(ctx, i, seq)
				done := time.Now()
				if start.Before(begin) || done.After(end) || ctx.Err() != nil {
					continue
				}
				if err != nil {
					c.errors[ErrorClass(err)]++
					continue
				}
				c.hist.Record(done.Sub(start))
			}
		})
	}
	wg.Wait()
	res := LoadResult{Clients: cfg.Clients, Window: cfg.Duration, Errors: map[string]int{}}
	var all Histogram
	for i := range clients {
		all.Merge(&clients[i].hist)
		for k, v := range clients[i].errors {
			res.Errors[k] += v
		}
	}
	res.OK = all.Count()
	res.Latency = all.Summary()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load interrupted: %w", err)
	}
	return res, nil
}

// Target is a replicated store under benchmark. Write stores key (new on
// every call) through the member client i is bound to; Read looks key up
// there at the store's cheapest local consistency. Both are called
// concurrently for different clients, never for the same client at once.
type Target interface {
	Write(ctx context.Context, client int, key string) error
	Read(ctx context.Context, client int, key string) error
}

// BenchResult is one target's write phase and read phase.
type BenchResult struct {
	Writes, Reads LoadResult
}

// RunBench runs a write phase, then a read phase, against t. Every client
// writes unique keys (each starting with keyPrefix, so that runs against
// one target do not overwrite each other); then every client reads back,
// alternately, keys it wrote successfully and keys nobody wrote, so half
// the reads hit.
func RunBench(ctx context.Context, t Target, cfg LoadConfig, keyPrefix string) (BenchResult, error) {
	var res BenchResult
	written := make([][]int, cfg.Clients) // written[i] is touched only by client i
	var err error
	res.Writes, err = RunLoad(ctx, cfg, func(ctx context.Context, client, seq int) error {
		if err := t.Write(ctx, client, keyPrefix+benchKey(client, seq)); err != nil {
			return err
		}
		written[client] = append(written[client], seq)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("write phase: %w", err)
	}
	res.Reads, err = RunLoad(ctx, cfg, func(ctx context.Context, client, seq int) error {
		key := "miss-" + keyPrefix + benchKey(client, seq)
		if own := written[client]; seq%2 == 0 && len(own) > 0 {
			key = keyPrefix + benchKey(client, own[(seq/2)%len(own)])
		}
		return t.Read(ctx, client, key)
	})
	if err != nil {
		return res, fmt.Errorf("read phase: %w", err)
	}
	return res, nil
}

// benchKey is the unique key (player id) of one client's seq'th write.
func benchKey(client, seq int) string {
	return "c" + strconv.Itoa(client) + "-" + strconv.Itoa(seq)
}

// NewLoadHTTPClient returns an HTTP client whose connection pool keeps at
// least conns idle connections per host, so a load run measures the
// server rather than TCP set-up.
func NewLoadHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        0, // no overall limit
			MaxIdleConnsPerHost: max(conns, 2),
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// BanLoad is a Target for a cassnet cluster: writes create bans through
// POST /v1/tenants/{tenant}/bans (the key is the player id), reads are the
// stale ban check. Client i talks to Addrs[i % len(Addrs)].
type BanLoad struct {
	Client *Client
	Tenant string
	Addrs  []string
	// Reason is every ban's reason; its length sets the record size.
	Reason string
}

// Write creates one ban and expects 201.
func (b *BanLoad) Write(ctx context.Context, client int, key string) error {
	body := struct {
		PlayerID string `json:"player_id"`
		Reason   string `json:"reason"`
	}{key, b.Reason}
	return b.expect(ctx, http.MethodPost, client, "/v1/tenants/"+b.Tenant+"/bans", body, http.StatusCreated)
}

// Read does the stale ban check for player key and expects 200.
func (b *BanLoad) Read(ctx context.Context, client int, key string) error {
	path := "/v1/tenants/" + b.Tenant + "/players/" + key + "/ban?stale"
	return b.expect(ctx, http.MethodGet, client, path, nil, http.StatusOK)
}

func (b *BanLoad) expect(ctx context.Context, method string, client int, path string, body any, want int) error {
	resp, err := b.Client.Do(ctx, method, b.Addrs[client%len(b.Addrs)], path, body)
	if err != nil {
		return err
	}
	if resp.Status != want {
		return &StatusError{Status: resp.Status, Body: string(resp.Body)}
	}
	return nil
}

// WaitVoters polls until every node answers GET /v1/ready with 200 and
// reports a Raft configuration with want voters and one common leader, or
// ctx ends.
func WaitVoters(ctx context.Context, cl *Client, nodes []*Node, want int) error {
	return WaitFor(ctx, func() error {
		leader := ""
		for _, nd := range nodes {
			resp, err := cl.Do(ctx, http.MethodGet, nd.HTTPAddr(), "/v1/ready", nil)
			if err != nil {
				return err
			}
			if resp.Status != http.StatusOK {
				return fmt.Errorf("%s not ready: %d %s", nd.Name, resp.Status, resp.Body)
			}
			info, err := cl.Raft(ctx, nd)
			if err != nil {
				return err
			}
			voters := 0
			for _, s := range info.Servers {
				if s.Suffrage == "voter" {
					voters++
				}
			}
			if voters != want {
				return fmt.Errorf("%s sees %d voters, want %d", nd.Name, voters, want)
			}
			if info.LeaderID == "" || (leader != "" && info.LeaderID != leader) {
				return fmt.Errorf("%s: leader %q, others see %q", nd.Name, info.LeaderID, leader)
			}
			leader = info.LeaderID
		}
		return nil
	})
}
