package gameserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the registry on /metrics. Its cardinality is bounded
// by MaxServers × MaxMetricsPerServer: the labels are tenant, server and
// metric name only; labels sent with ReportMetric are not exported.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

var (
	descMetric = prometheus.NewDesc("cassnet_gameserver_metric",
		"The last value a game server registered on this node reported.",
		[]string{"tenant", "server", "name"}, nil)
	descPlayers = prometheus.NewDesc("cassnet_gameserver_players",
		"Players connected to a game server registered on this node.",
		[]string{"tenant", "server"}, nil)
	descServers = prometheus.NewDesc("cassnet_gameserver_servers",
		"Game servers registered on this node, by state.",
		[]string{"state"}, nil)
)

type collector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMetric
	ch <- descPlayers
	ch <- descServers
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	all := c.s.reg.list(func(Info) bool { return true }, c.s.healthy)
	byState := map[string]int{"starting": 0, "ready": 0, "allocated": 0, "draining": 0}
	for _, in := range all {
		byState[in.State]++
		ch <- prometheus.MustNewConstMetric(descPlayers, prometheus.GaugeValue, float64(in.PlayerCount), in.Tenant, in.ID)
		for name, v := range in.Metrics {
			ch <- prometheus.MustNewConstMetric(descMetric, prometheus.GaugeValue, v, in.Tenant, in.ID, name)
		}
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(descServers, prometheus.GaugeValue, float64(n), st)
	}
}
