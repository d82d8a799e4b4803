package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	dto "github.com/prometheus/client_model/go"
)

// The metrics history is what the console draws its charts from without a
// Prometheus server: each node samples a few of its own metrics from its
// registry every HistoryInterval and keeps the last historyWindow of
// samples in a ring (720 samples at the default 5 s, about 60 KB). GET
// /v1/metrics/history answers this node's ring and, unless
// ?scope=local, every other alive member's, asked over REST with the
// caller's credential the way the cluster-wide server list is.

// DefaultHistoryInterval is how often the history samples by default.
const DefaultHistoryInterval = 5 * time.Second

// historyWindow is how far back the history reaches.
const historyWindow = time.Hour

// historyAskTimeout bounds how long a cluster-wide history waits for one
// member.
const historyAskTimeout = 2 * time.Second

// MetricsSample is one sample of a node's key metrics. Rates are per
// second over the interval before T.
type MetricsSample struct {
	T              int64    `json:"t"` // unix seconds
	RequestsPerSec float64  `json:"requests_per_s"`
	WritesPerSec   float64  `json:"writes_per_s"`
	Players        float64  `json:"players"`
	GameServers    float64  `json:"game_servers"`
	AllocsPerSec   *float64 `json:"allocations_per_s,omitempty"` // once allocations exist
	CPUCores       float64  `json:"cpu_cores"`
	HeapBytes      float64  `json:"heap_bytes"`
	Goroutines     float64  `json:"goroutines"`
}

// NodeHistory is one node's samples, oldest first.
type NodeHistory struct {
	Node    string          `json:"node"`
	Samples []MetricsSample `json:"samples"`
}

// MetricsHistory answers GET /v1/metrics/history.
type MetricsHistory struct {
	IntervalSeconds float64       `json:"interval_seconds"`
	Nodes           []NodeHistory `json:"nodes"`
	// Unreachable names the members that did not answer in time.
	Unreachable []string `json:"unreachable"`
}

// The metric families a sample reads. Counters become rates.
const (
	famRequests    = "cassnet_http_requests_total"
	famWrites      = "cassnet_raft_apply_duration_seconds" // histogram: its count
	famPlayers     = "cassnet_gameserver_players"
	famServers     = "cassnet_gameserver_servers"
	famAllocations = "cassnet_allocations_total"
	famCPU         = "process_cpu_seconds_total"
	famHeap        = "go_memstats_heap_alloc_bytes"
	famGoroutines  = "go_goroutines"
)

// history is a bounded ring of samples. Sampling happens in Run, reads
// in request goroutines.
type history struct {
	interval time.Duration

	mu      sync.Mutex
	ring    []MetricsSample
	next    int // where the next sample goes
	full    bool
	prev    map[string]float64 // counter totals at the last sample
	prevAt  time.Time
	hasPrev bool
}

func newHistory(interval time.Duration) *history {
	n := max(int(historyWindow/interval), 1)
	return &history{interval: interval, ring: make([]MetricsSample, n)}
}

// sums adds up every series of each family (histograms by count).
func sums(fams []*dto.MetricFamily) map[string]float64 {
	out := make(map[string]float64, 8)
	for _, f := range fams {
		name := f.GetName()
		switch name {
		case famRequests, famWrites, famPlayers, famServers, famAllocations, famCPU, famHeap, famGoroutines:
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				out[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] += m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name] += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// add records one sample from the totals read at now.
func (h *history) add(now time.Time, v map[string]float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := MetricsSample{
		T: now.Unix(), Players: v[famPlayers], GameServers: v[famServers],
		HeapBytes: v[famHeap], Goroutines: v[famGoroutines],
	}
	if h.hasPrev {
		if dt := now.Sub(h.prevAt).Seconds(); dt > 0 {
			rate := func(name string) float64 { return max(v[name]-h.prev[name], 0) / dt }
			s.RequestsPerSec, s.WritesPerSec, s.CPUCores = rate(famRequests), rate(famWrites), rate(famCPU)
			if _, ok := v[famAllocations]; ok {
				a := rate(famAllocations)
				s.AllocsPerSec = &a
			}
		}
	}
	h.prev, h.prevAt, h.hasPrev = v, now, true
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	h.full = h.full || h.next == 0
}

// since returns the samples newer than t (unix seconds), oldest first.
func (h *history) since(t int64) []MetricsSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ordered []MetricsSample
	if h.full {
		ordered = append(slices.Clone(h.ring[h.next:]), h.ring[:h.next]...)
	} else {
		ordered = slices.Clone(h.ring[:h.next])
	}
	i, _ := slices.BinarySearchFunc(ordered, t+1, func(s MetricsSample, t int64) int {
		return int(s.T - t)
	})
	return ordered[i:]
}

// sampleHistory reads this node's registry into the history.
func (s *Server) sampleHistory() {
	fams, err := s.reg.Gather()
	if err != nil && len(fams) == 0 {
		s.log.Debug("metrics history: gather failed", "err", err)
		return
	}
	s.history.add(s.now(), sums(fams))
}

// handleMetricsHistory answers the metrics history of this node and,
// unless ?scope=local, of every other alive member. ?since=<unix seconds>
// returns only newer samples.
func (s *Server) handleMetricsHistory(w http.ResponseWriter, r *http.Request, _ Principal) {
	q := r.URL.Query()
	var since int64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, badRequest("since must be unix seconds"))
			return
		}
		since = n
	}
	out := MetricsHistory{
		IntervalSeconds: s.history.interval.Seconds(),
		Nodes:           []NodeHistory{{Node: s.node, Samples: s.history.since(since)}},
		Unreachable:     []string{},
	}
	if q.Get("scope") != "local" && s.peers != nil {
		cred, _ := credential(r)
		s.askPeersHistory(r.Context(), cred, since, &out)
	}
	slices.SortFunc(out.Nodes, func(a, b NodeHistory) int { return strings.Compare(a.Node, b.Node) })
	slices.Sort(out.Unreachable)
	writeJSON(w, http.StatusOK, out)
}

// askPeersHistory adds every other alive member's local history to out,
// asked in parallel; members that fail are named in out.Unreachable.
func (s *Server) askPeersHistory(ctx context.Context, cred string, since int64, out *MetricsHistory) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range s.members.Members() {
		if m.Status != mesh.StatusAlive || m.Name == s.node || m.HTTPAddr == "" {
			continue
		}
		wg.Go(func() { // owned here: askPeersHistory waits for it
			nodes, err := s.askHistory(ctx, m.HTTPAddr, cred, since)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Debug("metrics history: member did not answer", "member", m.Name, "err", err)
				out.Unreachable = append(out.Unreachable, m.Name)
				return
			}
			out.Nodes = append(out.Nodes, nodes...)
		})
	}
	wg.Wait()
}

// askHistory fetches one member's local history.
func (s *Server) askHistory(ctx context.Context, addr, cred string, since int64) ([]NodeHistory, error) {
	ctx, cancel := context.WithTimeout(ctx, historyAskTimeout)
	defer cancel()
	u := s.scheme + "://" + addr + "/v1/metrics/history?scope=local&since=" + url.QueryEscape(strconv.FormatInt(since, 10))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := s.peers.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("ask %s: status %d", addr, resp.StatusCode)
	}
	var h MetricsHistory
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("decode %s: %w", addr, err)
	}
	return h.Nodes, nil
}
