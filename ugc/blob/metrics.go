package blob

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes, the values of cassnet_ugc_uploads_total{outcome}.
const (
	outcomeCompleted    = "completed"
	outcomeDeduplicated = "deduplicated"
	outcomeMismatch     = "mismatch"
	outcomeNotPublished = "not_published"
	outcomeExpired      = "expired"
	outcomeTerminated   = "terminated"
)

// metrics are the package's instruments; labels are bounded (store,
// outcome, how), never a tenant or an id.
type metrics struct {
	received      *prometheus.CounterVec // bytes durably stored, by store
	uploads       *prometheus.CounterVec // finished uploads, by store and outcome
	downloads     *prometheus.CounterVec // local downloads, by how: served, forwarded
	forwardFailed prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_ugc_upload_bytes_total",
			Help: "Upload bytes this node stored durably (tus PATCH), by store.",
		}, []string{"store"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_ugc_uploads_total",
			Help: "Uploads that ended on this node, by store and outcome (completed, deduplicated, mismatch, not_published, expired, terminated).",
		}, []string{"store", "outcome"}),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassnet_ugc_local_downloads_total",
			Help: "Signed local-store downloads, served from this node's disk or forwarded to the holder.",
		}, []string{"how"}),
		forwardFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cassnet_ugc_forward_failures_total",
			Help: "Requests for content held by another node that could not be forwarded (holder unknown, down or not answering).",
		}),
	}
}

// RegisterMetrics registers the package's metrics on reg (the node passes
// the API's registry, served at /metrics). Call it once per Service.
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{s.met.received, s.met.uploads, s.met.downloads, s.met.forwardFailed} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("blob: register metrics: %w", err)
		}
	}
	return nil
}

func (s *Service) countUpload(store, outcome string) {
	if store == "" {
		store = StoreLocal
	}
	s.met.uploads.WithLabelValues(store, outcome).Inc()
}
