package webhook

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cassandranet/cassnet/state/webhooks"
)

type metrics struct {
	attempts  *prometheus.CounterVec
	latency   prometheus.Histogram
	state     *webhooks.Store
	delivered atomic.Uint64
	failed    atomic.Uint64
}

func newMetrics(st *webhooks.Store) *metrics {
	return &metrics{
		state: st,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_webhook_attempts_total",
			Help: "Webhook delivery attempts this node made as leader, by result (delivered or failed).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cassnet_webhook_attempt_seconds", Help: "Duration of webhook delivery attempts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
	}
}

func (m *metrics) observe(delivered bool, d time.Duration) {
	res := "failed"
	if delivered {
		res = "delivered"
		m.delivered.Add(1)
	} else {
		m.failed.Add(1)
	}
	m.attempts.WithLabelValues(res).Inc()
	m.latency.Observe(d.Seconds())
}

func (m *metrics) counts() (uint64, uint64) { return m.delivered.Load(), m.failed.Load() }

// Collectors returns the deliverer's Prometheus metrics, and the
// replicated outbox's totals (the same on every node).
func (d *Deliverer) Collectors() []prometheus.Collector {
	st := d.metrics.state
	gauge := func(name, help string, f func(webhooks.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(st.Stats()) })
	}
	counter := func(name, help string, f func(webhooks.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(st.Stats()) })
	}
	return []prometheus.Collector{
		d.metrics.attempts, d.metrics.latency,
		gauge("cassnet_webhook_outbox_pending", "Deliveries waiting in the replicated webhook outbox.", func(s webhooks.Stats) float64 { return float64(s.Pending) }),
		gauge("cassnet_webhooks", "Webhooks configured, over every tenant.", func(s webhooks.Stats) float64 { return float64(s.Webhooks) }),
		gauge("cassnet_webhooks_disabled", "Webhooks disabled (by a person or after repeated failures).", func(s webhooks.Stats) float64 { return float64(s.Webhooks - s.Enabled) }),
		counter("cassnet_webhook_outbox_dropped_total", "Events not recorded because their tenant's outbox was full (counted per webhook; the current webhooks' totals).", func(s webhooks.Stats) float64 { return float64(s.Dropped) }),
		counter("cassnet_webhook_expired_total", "Events given up after the retry window (the current webhooks' totals).", func(s webhooks.Stats) float64 { return float64(s.Expired) }),
	}
}
