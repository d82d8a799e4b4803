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

// score reads the candidates with the SDK's scanner (no encoding/json:
// reflection is slow inside wasm) and answers them reordered, as the raw
// objects they came as.
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
	raw, ok := c.Field("candidates")
	if !ok {
		return pluginsdk.Reject(400, "alloc-prefer: unreadable request")
	}
	elems, ok := pluginsdk.Elements(raw)
	if !ok {
		return pluginsdk.Reject(400, "alloc-prefer: unreadable candidates")
	}
	type cand struct {
		raw     []byte
		rank    int
		players int64
	}
	out := make([]cand, 0, len(elems))
	for _, e := range elems {
		k := cand{raw: e}
		if cfg.Value != "" {
			k.rank = 1
			if labels, ok := pluginsdk.Get(e, "labels"); ok {
				if v, ok := pluginsdk.Get(labels, cfg.Label); ok {
					if s, ok := pluginsdk.Str(v); ok && s == cfg.Value {
						k.rank = 0
					}
				}
			}
		}
		if v, ok := pluginsdk.Get(e, "players"); ok {
			k.players, _ = pluginsdk.Int(v)
		}
		if !cfg.Only || k.rank == 0 {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b cand) int {
		if r := cmp.Compare(a.rank, b.rank); r != 0 || !cfg.FullestFirst {
			return r
		}
		return cmp.Compare(b.players, a.players)
	})
	ordered := make([][]byte, len(out))
	for i, k := range out {
		ordered[i] = k.raw
	}
	return pluginsdk.PreferRaw(c.Request, ordered, cfg.Only)
}

func main() {}
