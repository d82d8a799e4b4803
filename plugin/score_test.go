package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
)

// TestAllocPrefer: the alloc-prefer example orders the candidates of
// score_allocation by its config, and Implements sees the hook.
func TestAllocPrefer(t *testing.T) {
	reg := newRegistry(t, "acme")
	rt := newRuntime(t, reg, nil)
	ctx := context.Background()
	if rt.Implements(ctx, "acme", hooks.ScoreAllocation) {
		t.Fatal("Implements with no plugin")
	}
	install(t, rt, reg, "acme", "alloc-prefer", module(t, "alloc-prefer", ""), false)
	if !rt.Implements(ctx, "acme", hooks.ScoreAllocation) || rt.Implements(ctx, "acme", hooks.BeforeBanCreate) {
		t.Fatal("Implements does not follow the manifest")
	}
	req := []byte(`{"allocation":{"project_id":"arena"},"only":false,"candidates":[
		{"id":"a","node":"n1","state":"ready","labels":{"region":"us"},"players":0,"capacity":10},
		{"id":"b","node":"n2","state":"ready","labels":{"region":"eu"},"players":1,"capacity":10},
		{"id":"c","node":"n3","state":"ready","labels":{"region":"eu"},"players":7,"capacity":10}]}`)
	caller := hooks.Caller{Tenant: "acme", Kind: "operator", ID: "op"}
	order := func(cfg string) ([]string, bool) {
		t.Helper()
		reg.config("acme", "alloc-prefer", cfg)
		out, err := rt.Before(ctx, hooks.ScoreAllocation, caller, req)
		if err != nil {
			t.Fatalf("config %s: %v", cfg, err)
		}
		var ans struct {
			Candidates []struct{ ID string }
			Only       bool
		}
		if err := json.Unmarshal(out, &ans); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
		var ids []string
		for _, c := range ans.Candidates {
			ids = append(ids, c.ID)
		}
		return ids, ans.Only
	}
	if ids, only := order(`{"value":"eu"}`); !slices.Equal(ids, []string{"b", "c", "a"}) || only {
		t.Fatalf("region eu: %v only=%v", ids, only)
	}
	if ids, only := order(`{"value":"eu","only":true,"fullest_first":true}`); !slices.Equal(ids, []string{"c", "b"}) || !only {
		t.Fatalf("eu only, fullest first: %v only=%v", ids, only)
	}
	reg.config("acme", "alloc-prefer", `{}`)
	if out, err := rt.Before(ctx, hooks.ScoreAllocation, caller, req); err != nil || string(out) != string(req) {
		t.Fatalf("no config: %s %v, want the request unchanged", out, err)
	}
}

// BenchmarkScoreAllocation: one score_allocation call of alloc-prefer
// (compiled) over 16 and 64 (the most a node offers) candidates, as a
// node makes it for an allocation.
func BenchmarkScoreAllocation(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("candidates=%d", n), func(b *testing.B) { benchScore(b, n) })
	}
}

func benchScore(b *testing.B, n int) {
	reg := newRegistry(b, "acme")
	rt, err := plugin.New(context.Background(), plugin.Config{Source: reg, Instances: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	install(b, rt, reg, "acme", "alloc-prefer", module(b, "alloc-prefer", ""), false)
	reg.config("acme", "alloc-prefer", `{"value":"eu","fullest_first":true}`)
	var sb strings.Builder
	sb.WriteString(`{"allocation":{"project_id":"arena"},"only":false,"candidates":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"gs-%02d","node":"n%d","state":"ready","labels":{"region":"%s","mode":"ctf"},"players":%d,"capacity":10}`,
			i, i%8, []string{"eu", "us"}[i%2], i%10)
	}
	sb.WriteString(`]}`)
	req := []byte(sb.String())
	ctx := context.Background()
	caller := hooks.Caller{Tenant: "acme", Kind: "operator", ID: "op"}
	for range 50 {
		if _, err := rt.Before(ctx, hooks.ScoreAllocation, caller, req); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := rt.Before(ctx, hooks.ScoreAllocation, caller, req); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(times)), "cpu-µs/op")
	reportPercentiles(b, times)
}
