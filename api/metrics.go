package api

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cassandranet/cassnet/mesh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the API's instruments, all on the server's own registry.
type metrics struct {
	requests *prometheus.CounterVec   // cassnet_http_requests_total{route,code}
	latency  *prometheus.HistogramVec // cassnet_http_request_duration_seconds{route,code}
	apply    *prometheus.HistogramVec // cassnet_raft_apply_duration_seconds{outcome}

	rateLimited *prometheus.CounterVec // cassnet_http_rate_limited_total{tenant,route}
	sessions    prometheus.Counter     // cassnet_sessions_issued_total
	verifies    *prometheus.CounterVec // cassnet_session_verifications_total{reason}
	verifyBy    map[string]prometheus.Counter
	allocations prometheus.Counter // cassnet_allocations_total
}

func newMetrics(reg *prometheus.Registry, store Store, members Members, version string) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cassnet_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		apply: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cassnet_raft_apply_duration_seconds",
			Help:    "Latency of Store.Apply calls made by the API, by outcome (ok or the error code).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_http_rate_limited_total",
			Help: "Requests answered 429 by this node's rate limiter, by tenant (existing tenants only, else unknown or none) and route pattern.",
		}, []string{"tenant", "route"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_sessions_issued_total",
			Help: "Player session tokens signed by this node.",
		}),
		allocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_allocations_total",
			Help: "Game-server allocations this node handed out (replays of an idempotency key not counted).",
		}),
		verifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_session_verifications_total",
			Help: "Session tokens verified by this node, by outcome (ok, expired, revoked, banned, invalid).",
		}, []string{"reason"}),
	}
	m.verifyBy = make(map[string]prometheus.Counter, len(verifyReasons))
	for _, r := range verifyReasons { // resolved once: verification is hot
		m.verifyBy[r] = m.verifies.WithLabelValues(r)
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "cassnet_build_info",
		Help: "Always 1; labelled with this node's version.",
	}, []string{"version"})
	buildInfo.WithLabelValues(version).Set(1)

	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.apply, m.rateLimited, m.sessions, m.verifies, m.allocations, buildInfo,
		&raftCollector{store: store},
		&membersCollector{members: members},
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// routeObserver is the request metrics of one route. The series for each
// status code are resolved once, on first use, and cached, so observing a
// request does not hash label values or allocate.
type routeObserver struct {
	requests *prometheus.CounterVec
	latency  prometheus.ObserverVec
	byCode   *[500]atomic.Pointer[codeSeries] // statuses 100..599
}

type codeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (m *metrics) forRoute(pattern string) routeObserver {
	l := prometheus.Labels{"route": pattern}
	return routeObserver{
		requests: m.requests.MustCurryWith(l),
		latency:  m.latency.MustCurryWith(l),
		byCode:   new([500]atomic.Pointer[codeSeries]),
	}
}

func (o routeObserver) observe(status int, d time.Duration) {
	var cs *codeSeries
	slot := status - 100
	if slot >= 0 && slot < len(o.byCode) {
		cs = o.byCode[slot].Load()
	}
	if cs == nil {
		code := strconv.Itoa(status)
		cs = &codeSeries{requests: o.requests.WithLabelValues(code), latency: o.latency.WithLabelValues(code)}
		if slot >= 0 && slot < len(o.byCode) {
			o.byCode[slot].Store(cs)
		}
	}
	cs.requests.Inc()
	cs.latency.Observe(d.Seconds())
}

// observeApply records one Store.Apply call.
func (m *metrics) observeApply(d time.Duration, err error) {
	m.apply.WithLabelValues(outcome(err)).Observe(d.Seconds())
}

// raftCollector reads Store.RaftInfo at scrape time, so the gauges are
// never stale and nothing has to push them.
type raftCollector struct{ store Store }

var (
	descIsLeader    = prometheus.NewDesc("cassnet_raft_is_leader", "1 if this node is the Raft leader.", nil, nil)
	descTerm        = prometheus.NewDesc("cassnet_raft_term", "Current Raft term.", nil, nil)
	descLastIndex   = prometheus.NewDesc("cassnet_raft_last_index", "Last index in the local Raft log.", nil, nil)
	descCommitIndex = prometheus.NewDesc("cassnet_raft_commit_index", "Raft commit index known to this node.", nil, nil)
	descApplied     = prometheus.NewDesc("cassnet_raft_applied_index", "Last index applied to the local state machine.", nil, nil)
	descLastContact = prometheus.NewDesc("cassnet_raft_last_contact_seconds", "Time since this node last heard from the leader (0 on the leader).", nil, nil)
	descState       = prometheus.NewDesc("cassnet_raft_state", "1 for the local Raft state, 0 for the others.", []string{"state"}, nil)
	descServers     = prometheus.NewDesc("cassnet_raft_servers", "Servers in the Raft configuration, by suffrage.", []string{"suffrage"}, nil)
	descMembers     = prometheus.NewDesc("cassnet_members", "Gossip members as this node sees them, by status.", []string{"status"}, nil)
)

// raftStates are always exported, so a state's series exists at 0 before
// the node ever enters it.
var raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

// Describe implements prometheus.Collector.
func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIsLeader, descTerm, descLastIndex, descCommitIndex,
		descApplied, descLastContact, descState, descServers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	info := c.store.RaftInfo()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	isLeader := 0.0
	if info.State == "Leader" {
		isLeader = 1
	}
	gauge(descIsLeader, isLeader)
	gauge(descTerm, float64(info.Term))
	gauge(descLastIndex, float64(info.LastIndex))
	gauge(descCommitIndex, float64(info.CommitIndex))
	gauge(descApplied, float64(info.AppliedIndex))
	gauge(descLastContact, info.LastContact.Seconds())
	known := false
	for _, st := range raftStates {
		v := 0.0
		if st == info.State {
			v, known = 1, true
		}
		gauge(descState, v, st)
	}
	if !known && info.State != "" {
		gauge(descState, 1, info.State)
	}
	var voters, nonvoters float64
	for _, srv := range info.Servers {
		if srv.Suffrage == "voter" {
			voters++
		} else {
			nonvoters++
		}
	}
	gauge(descServers, voters, "voter")
	gauge(descServers, nonvoters, "nonvoter")
}

// membersCollector counts gossip members by status at scrape time.
type membersCollector struct{ members Members }

var memberStatuses = []mesh.Status{mesh.StatusAlive, mesh.StatusSuspect, mesh.StatusLeft, mesh.StatusFailed}

// Describe implements prometheus.Collector.
func (c *membersCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descMembers }

// Collect implements prometheus.Collector.
func (c *membersCollector) Collect(ch chan<- prometheus.Metric) {
	counts := make(map[mesh.Status]float64, len(memberStatuses))
	for _, m := range c.members.Members() {
		counts[m.Status]++
	}
	for _, st := range memberStatuses {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, counts[st], string(st))
		delete(counts, st)
	}
	for st, n := range counts { // a status this build does not know
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, n, string(st))
	}
}
