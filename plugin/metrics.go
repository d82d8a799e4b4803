package plugin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cassandranet/cassnet/state/plugins"
)

// metrics are the plugin calls' Prometheus series. Labels are bounded:
// plugins.MaxPluginsPerTenant plugins per tenant, and known hooks or the
// RPCs their manifests name.
type metrics struct {
	calls    *prometheus.CounterVec
	failures *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	return &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_plugin_calls_total",
			Help: "Plugin hook and RPC calls on this node, by outcome (allow, amend, reject, ok, error).",
		}, []string{"tenant", "plugin", "hook", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_plugin_failures_total",
			Help: "Failed plugin calls on this node, by kind (trap, timeout, invalid_result, load).",
		}, []string{"tenant", "plugin", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cassnet_plugin_call_duration_seconds",
			Help:    "Time of one plugin call, including waiting for an instance.",
			Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 1e-3, 5e-3, 25e-3, 100e-3, 500e-3},
		}, []string{"tenant", "plugin", "hook"}),
	}
}

func (m *metrics) result(p plugins.Plugin, hook, result string) {
	m.calls.WithLabelValues(p.Tenant, p.Name, hook, result).Inc()
}

func (m *metrics) failure(p plugins.Plugin, kind string) {
	m.failures.WithLabelValues(p.Tenant, p.Name, kind).Inc()
}

func (m *metrics) observe(p plugins.Plugin, hook string, d time.Duration) {
	m.duration.WithLabelValues(p.Tenant, p.Name, hook).Observe(d.Seconds())
}

// Describe implements prometheus.Collector, so the API registers the
// runtime's series in its registry.
func (r *Runtime) Describe(ch chan<- *prometheus.Desc) {
	r.metrics.calls.Describe(ch)
	r.metrics.failures.Describe(ch)
	r.metrics.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (r *Runtime) Collect(ch chan<- prometheus.Metric) {
	r.metrics.calls.Collect(ch)
	r.metrics.failures.Collect(ch)
	r.metrics.duration.Collect(ch)
}
