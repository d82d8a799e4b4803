// Command alloc-prefer is an example CassandraNet plugin (a Wasm module,
// built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared). Its
// score_allocation hook orders an allocation's candidate servers:
//
//	{"label": "region", "value": "eu", "only": false, "fullest_first": true}
//
// Servers whose label (default "region") equals value come first; with
// only, the others are dropped (a filter: no matching server is a 409
// no_capacity). Within each group, with fullest_first, the server with
// the most players comes first (bin-packing backfill); otherwise the
// node's default order is kept. Without a value the plugin answers the
// default choice unchanged.
package main

import (
	"cmp"
	"slices"

	"github.com/cassandranet/cassnet/pluginsdk"
)

type config struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	Only         bool   `json:"only"`
	FullestFirst bool   `json:"fullest_first"`
}

func init() {
	pluginsdk.Manifest("alloc-prefer", "1.0.0")
	pluginsdk.Handle(pluginsdk.ScoreAllocation, score)
}

func score(c pluginsdk.Call) pluginsdk.Result {
	var cfg config
	if err := c.DecodeConfig(&cfg); err != nil {
		return pluginsdk.Reject(400, "alloc-prefer: bad config")
	}
	if cfg.Label == "" {
		cfg.Label = "region"
	}
	if cfg.Value == "" && !cfg.FullestFirst {
		return pluginsdk.Allow()
	}
	var req pluginsdk.ScoreRequest
	if err := c.Decode(&req); err != nil {
		return pluginsdk.Reject(400, "alloc-prefer: unreadable request")
	}
	rank := func(s pluginsdk.Candidate) int {
		if cfg.Value == "" || s.Labels[cfg.Label] == cfg.Value {
			return 0
		}
		return 1
	}
	out := make([]pluginsdk.Candidate, 0, len(req.Candidates))
	for _, s := range req.Candidates {
		if !cfg.Only || rank(s) == 0 {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b pluginsdk.Candidate) int {
		if r := cmp.Compare(rank(a), rank(b)); r != 0 || !cfg.FullestFirst {
			return r
		}
		return cmp.Compare(b.Players, a.Players)
	})
	return pluginsdk.Prefer(req, out, cfg.Only)
}

func main() {}
