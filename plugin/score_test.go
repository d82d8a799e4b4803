package plugin_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/cassandranet/cassnet/hooks"
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
