package pubsub

import (
	"cmp"
	"fmt"
	"slices"

	lp2pps "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

// topTopics is how many topics get their own subscriber-count series:
// topic names are unbounded, so only the busiest few are labelled.
const topTopics = 10

// Drop reasons, the values of cassnet_pubsub_dropped_total{reason}.
const (
	dropPeerQueue     = "peer_queue_full"       // GossipSub per-peer outbound queue
	dropValidateQueue = "validation_queue_full" // GossipSub validation queue
	dropInvalid       = "invalid"               // refused by our validator
	dropIgnored       = "ignored"               // validator said ignore (test hook)
	dropThrottled     = "throttled"             // GossipSub validation throttle
	dropSubQueue      = "subscription_full"     // the topic reader fell behind
	dropHoldFull      = "hold_full"             // too many out-of-order messages
	dropSlowSub       = "slow_subscriber"       // a subscriber was disconnected
	dropOther         = "other"
)

var dropReasons = []string{dropPeerQueue, dropValidateQueue, dropInvalid, dropIgnored,
	dropThrottled, dropSubQueue, dropHoldFull, dropSlowSub, dropOther}

// metrics are the pubsub instruments.
type metrics struct {
	published  prometheus.Counter
	delivered  prometheus.Counter
	dropped    map[string]prometheus.Counter
	backfilled prometheus.Counter
	gaps       prometheus.Counter
	resets     prometheus.Counter
	refused    prometheus.Counter
	latency    prometheus.Histogram
	// gossipBatches counts gossip messages this node published with
	// messages in them, gossipBatched the messages they carried.
	gossipBatches prometheus.Counter
	gossipBatched prometheus.Counter
	collectors    []prometheus.Collector
}

func newMetrics() *metrics {
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cassnet_pubsub_dropped_total",
		Help: "Messages dropped, by reason (every drop GossipSub reports, plus ours).",
	}, []string{"reason"})
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_published_total", Help: "Messages published on this node."}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_delivered_total", Help: "Messages handed to local subscribers (one per subscriber)."}),
		backfilled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_backfilled_total", Help: "Messages fetched from peers by backfill."}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_gaps_total", Help: "Unrepairable gaps declared on this node."}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_resets_total", Help: "Resumes that could not be filled and sent a reset event."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_gater_refused_total", Help: "libp2p connections refused because the peer is not a mesh member."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cassnet_pubsub_delivery_latency_seconds",
			Help:    "Publish (origin clock) to delivery to a local subscriber, live events only.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		gossipBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_gossip_batches_total", Help: "Gossip messages this node sent carrying its own messages (one or a batch)."}),
		gossipBatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_pubsub_gossip_batched_messages_total", Help: "Messages carried by those gossip messages; divided by batches, the mean batch size."}),
		dropped: make(map[string]prometheus.Counter, len(dropReasons)),
	}
	for _, r := range dropReasons {
		m.dropped[r] = dropped.WithLabelValues(r)
	}
	m.collectors = []prometheus.Collector{m.published, m.delivered, dropped, m.backfilled,
		m.gaps, m.resets, m.refused, m.latency, m.gossipBatches, m.gossipBatched}
	return m
}

// RegisterMetrics registers the pubsub metrics on reg (the node passes
// the API's registry, served at /metrics).
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range append(s.met.collectors, &stateCollector{s: s}) {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("pubsub: register metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) drop(reason string, n int) { m.dropped[reason].Add(float64(n)) }

var (
	descPeers       = prometheus.NewDesc("cassnet_pubsub_peers", "Connected libp2p peers.", nil, nil)
	descTopics      = prometheus.NewDesc("cassnet_pubsub_topics", "Topics this node carries.", nil, nil)
	descSubscribers = prometheus.NewDesc("cassnet_pubsub_subscribers", "Local subscribers, all topics.", nil, nil)
	descTopicSubs   = prometheus.NewDesc("cassnet_pubsub_topic_subscribers",
		"Local subscribers of the 10 topics with the most (label: tenant/topic).", []string{"topic"}, nil)
)

// stateCollector reads gauges at scrape time.
type stateCollector struct{ s *Service }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPeers
	ch <- descTopics
	ch <- descSubscribers
	ch <- descTopicSubs
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.s.subscriberCounts()
	total := 0
	type tc struct {
		name string
		n    int
	}
	var top []tc
	for name, n := range counts {
		total += n
		if n > 0 {
			top = append(top, tc{name, n})
		}
	}
	slices.SortFunc(top, func(a, b tc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
	if len(top) > topTopics {
		top = top[:topTopics]
	}
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(c.s.connectedPeers()))
	ch <- prometheus.MustNewConstMetric(descTopics, prometheus.GaugeValue, float64(len(counts)))
	ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(total))
	for _, t := range top {
		ch <- prometheus.MustNewConstMetric(descTopicSubs, prometheus.GaugeValue, float64(t.n), t.name[len(topicPrefix):])
	}
}

// tracer counts GossipSub's silent drops (a RawTracer). GossipSub calls
// it from its event loop and validation workers: it must not block.
type tracer struct{ m *metrics }

func (t tracer) DropRPC(rpc *lp2pps.RPC, _ peer.ID) {
	if n := len(rpc.GetPublish()); n > 0 {
		t.m.drop(dropPeerQueue, n)
	}
}

func (t tracer) RejectMessage(_ *lp2pps.Message, reason string) {
	switch reason {
	case lp2pps.RejectValidationQueueFull:
		t.m.drop(dropValidateQueue, 1)
	case lp2pps.RejectValidationFailed:
		t.m.drop(dropInvalid, 1)
	case lp2pps.RejectValidationIgnored:
		t.m.drop(dropIgnored, 1)
	case lp2pps.RejectValidationThrottled:
		t.m.drop(dropThrottled, 1)
	default:
		t.m.drop(dropOther, 1)
	}
}

func (t tracer) UndeliverableMessage(*lp2pps.Message) { t.m.drop(dropSubQueue, 1) }

func (tracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (tracer) OnClosedOutboundStream(peer.ID)           {}
func (tracer) Join(string)                              {}
func (tracer) Leave(string)                             {}
func (tracer) Graft(peer.ID, string)                    {}
func (tracer) Prune(peer.ID, string)                    {}
func (tracer) ValidateMessage(*lp2pps.Message)          {}
func (tracer) DeliverMessage(*lp2pps.Message)           {}
func (tracer) DuplicateMessage(*lp2pps.Message)         {}
func (tracer) ThrottlePeer(peer.ID)                     {}
func (tracer) RecvRPC(*lp2pps.RPC)                      {}
func (tracer) SendRPC(*lp2pps.RPC, peer.ID)             {}
