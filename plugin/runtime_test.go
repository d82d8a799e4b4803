package plugin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/hooks"
	"github.com/cassandranet/cassnet/plugin"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

var admin = hooks.Caller{Tenant: "acme", Kind: "api_key", ID: "k1", Role: "tenant-admin"}

var (
	sharedOnce sync.Once
	sharedReg  *registry
	sharedRT   *plugin.Runtime
	reports    sync.Map // "plugin/kind" -> *RecordPluginFailure
)

// shared is one registry and runtime for the package's tests (each test
// uses its own tenants), so that a module is compiled once, not per test.
func shared(t *testing.T) (*registry, *plugin.Runtime) {
	sharedOnce.Do(func() {
		sharedReg = newRegistry(t, "acme", "bravo", "hot", "hostile")
		cfg := plugin.Config{Source: sharedReg, Node: "n1", CallTimeout: 20 * time.Second, Instances: 2, Interpreter: true, MemoryMiB: 24,
			ReportPeriod: 50 * time.Millisecond,
			Report: func(_ context.Context, op *cassnetv1.RecordPluginFailure) error {
				reports.Store(op.GetName()+"/"+op.GetKind(), op)
				return nil
			}}
		rt, err := plugin.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = rt.Run(context.Background()) }() // stopped by Close, never: the process ends
		sharedRT = rt
	})
	if sharedRT == nil {
		t.Fatal("no shared runtime")
	}
	return sharedReg, sharedRT
}

func newRuntime(tb testing.TB, reg *registry, edit func(*plugin.Config)) *plugin.Runtime {
	tb.Helper()
	cfg := plugin.Config{Source: reg, Node: "n1", CallTimeout: time.Second, MemoryMiB: 64, Instances: 2, Interpreter: true}
	if edit != nil {
		edit(&cfg)
	}
	rt, err := plugin.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rt.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done; _ = rt.Close(context.Background()) })
	return rt
}

// install inspects mod as the API does and puts it in the registry.
func install(tb testing.TB, rt *plugin.Runtime, reg *registry, tenant, name string, mod []byte, failOpen bool) plugin.Manifest {
	tb.Helper()
	sum := sha256.Sum256(mod)
	m, err := rt.Inspect(context.Background(), hex.EncodeToString(sum[:]), mod)
	if err != nil {
		tb.Fatalf("Inspect %s: %v", name, err)
	}
	reg.put(tenant, name, mod, manifestJSON(m), failOpen)
	return m
}

func manifestJSON(m plugin.Manifest) string {
	return `{"name":"` + m.Name + `","version":"` + m.Version + `","hooks":["` + strings.Join(m.Hooks, `","`) + `"],"rpcs":[]}`
}

func rejection(t *testing.T, err error) *hooks.Rejection {
	t.Helper()
	var rej *hooks.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want a *hooks.Rejection", err)
	}
	return rej
}

func TestExamples(t *testing.T) {
	reg, rt := shared(t)
	m := install(t, rt, reg, "acme", "ban-policy", module(t, "ban-policy", ""), false)
	if m.Name != "ban-policy" || !m.Has(hooks.BeforeBanCreate) {
		t.Fatalf("manifest %+v", m)
	}
	ctx := context.Background()

	_, err := rt.Before(ctx, hooks.BeforeBanCreate, admin, []byte(`{"player_id":"p1","reason":"x"}`))
	if rej := rejection(t, err); rej.Status != 422 || !strings.Contains(rej.Message, "at least 8") || rej.Plugin != "ban-policy" {
		t.Fatalf("rejection %+v", rej)
	}
	req := []byte(`{"player_id":"p1","reason":"aimbot detected","duration_seconds":60}`)
	if out, err := rt.Before(ctx, hooks.BeforeBanCreate, admin, req); err != nil || string(out) != string(req) {
		t.Fatalf("allowed ban: %s, %v", out, err)
	}
	reg.config("acme", "ban-policy", `{"max_seconds":3600,"projects":{"rocket":600}}`)
	out, err := rt.Before(ctx, hooks.BeforeBanCreate, admin, []byte(`{"player_id":"p1","reason":"aimbot detected","project_id":"rocket"}`))
	if err != nil || !strings.Contains(string(out), `"duration_seconds":600`) {
		t.Fatalf("a permanent rocket ban should be capped to 600 s: %s, %v", out, err)
	}
	reg.config("acme", "ban-policy", `{"max_seconds":3600,"over_cap":"reject"}`)
	_, err = rt.Before(ctx, hooks.BeforeBanCreate, admin, []byte(`{"player_id":"p1","reason":"aimbot detected","duration_seconds":7200}`))
	if rej := rejection(t, err); !strings.Contains(rej.Message, "at most 3600") {
		t.Fatalf("over-cap rejection %+v", rej)
	}
	// Other hooks and other tenants are not touched.
	if out, err := rt.Before(ctx, hooks.BeforeSessionCreate, admin, []byte(`{}`)); err != nil || string(out) != `{}` {
		t.Fatalf("session hook: %s %v", out, err)
	}
	other := admin
	other.Tenant = "bravo"
	if _, err := rt.Before(ctx, hooks.BeforeBanCreate, other, []byte(`{"reason":"x"}`)); err != nil {
		t.Fatalf("another tenant's request ran acme's plugin: %v", err)
	}

	install(t, rt, reg, "acme", "ugc-profanity", module(t, "ugc-profanity", ""), false)
	reg.config("acme", "ugc-profanity", `{"words":["Darn"]}`)
	_, err = rt.Before(ctx, hooks.BeforeUGCItemCreate, admin, []byte(`{"title":"a DARN map"}`))
	if rej := rejection(t, err); rej.Status != 422 {
		t.Fatalf("profanity %+v", rej)
	}
	if _, err := rt.Before(ctx, hooks.BeforeUGCItemCreate, admin, []byte(`{"title":"a fine map"}`)); err != nil {
		t.Fatal(err)
	}

	hello := module(t, "hello-rpc", "")
	sum := sha256.Sum256(hello)
	hm, err := rt.Inspect(ctx, hex.EncodeToString(sum[:]), hello)
	if err != nil || !hm.HasRPC("hello") {
		t.Fatalf("hello manifest %+v %v", hm, err)
	}
	reg.put("acme", "hello-rpc", hello, `{"name":"hello-rpc","hooks":[],"rpcs":["hello"]}`, false)
	res, err := rt.RPC(ctx, hooks.Caller{Tenant: "acme", Kind: "player", ID: "p7"}, "hello", []byte(`{"name":"ada"}`))
	if err != nil || string(res) != `{"hello":"ada"}` {
		t.Fatalf("hello: %s %v", res, err)
	}
	if _, err := rt.RPC(ctx, admin, "nope", []byte(`{}`)); !errors.Is(err, hooks.ErrNoRPC) {
		t.Fatalf("unknown rpc: %v", err)
	}
	if _, err := rt.RPC(ctx, admin, "hello", []byte(`[1]`)); rejection(t, err).Status != 400 {
		t.Fatal("a bad payload should be the RPC's 400")
	}
}

// TestHostilePlugins: a loop, a memory hog, a panic and a bad answer each
// fail their call (closed, or open when fail_open), are reported, and
// leave the runtime serving.
func TestHostilePlugins(t *testing.T) {
	reg, rt := shared(t)
	ctx := context.Background()
	install(t, rt, reg, "bravo", "ban-policy", module(t, "ban-policy", ""), false)
	evil := hooks.Caller{Tenant: "hostile", Kind: "api_key", ID: "k3"}
	healthy := func() {
		t.Helper()
		_, err := rt.Before(ctx, hooks.BeforeBanCreate, hooks.Caller{Tenant: "bravo"}, []byte(`{"reason":"x"}`))
		if rej := rejection(t, err); rej.Plugin != "ban-policy" {
			t.Fatalf("healthy plugin: %+v", rej)
		}
	}
	// The loop and the hog are stopped by the caller's deadline here (the
	// shared runtime's CallTimeout is long, for a busy machine), which the
	// runtime does not report as the plugin's failure; the panic's bad
	// answer is reported. testnet/plugintest shows timeouts reported.
	for _, tc := range []struct{ name, kind string }{
		{"testdata/loop", ""},
		{"testdata/hog", ""},
		{"testdata/panic", "invalid_result"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.TrimPrefix(tc.name, "testdata/")
			install(t, rt, reg, "hostile", name, module(t, tc.name, ""), false)
			start := time.Now()
			cctx, cancel := context.WithCancel(ctx)
			if tc.kind == "" {
				cctx, cancel = context.WithTimeout(ctx, 1500*time.Millisecond)
			}
			_, err := rt.Before(cctx, hooks.BeforeBanCreate, evil, []byte(`{"reason":"long enough"}`))
			cancel()
			var rej *hooks.Rejection
			if err == nil || errors.As(err, &rej) {
				t.Fatalf("want a failure, got %v", err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Fatalf("the call took %v", d)
			}
			healthy()
			if tc.kind == "" {
				reg.apply(&cassnetv1.Command{Op: &cassnetv1.Command_DeletePlugin{DeletePlugin: &cassnetv1.DeletePlugin{Tenant: "hostile", Name: name}}})
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				found := false
				reports.Range(func(k, _ any) bool {
					found = found || k == name+"/"+tc.kind
					return !found
				})
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s report for %s", tc.kind, name)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// fail_open lets the request through past the broken plugin.
			install(t, rt, reg, "hostile", name, module(t, tc.name, ""), true)
			if _, err := rt.Before(ctx, hooks.BeforeBanCreate, evil, []byte(`{"reason":"long enough"}`)); err != nil {
				t.Fatalf("fail_open: %v", err)
			}
		})
	}
	// A rejection with a status outside 400-499 is a failure, not a redirect.
	install(t, rt, reg, "hostile", "panic", module(t, "testdata/panic", ""), false) // fail closed again
	if _, err := rt.Before(ctx, hooks.BeforeSessionCreate, evil, []byte(`{}`)); err == nil || errors.As(err, new(*hooks.Rejection)) {
		t.Fatalf("status 302: %v", err)
	}
}

// TestHotSwap: calls keep running while the plugin is replaced; none
// fails, and the new version answers once it is in.
func TestHotSwap(t *testing.T) {
	reg, rt := shared(t)
	hot := hooks.Caller{Tenant: "hot", Kind: "api_key", ID: "k"}
	v1, v2 := module(t, "testdata/swap", ""), module(t, "testdata/swap", "-X main.version=v2")
	install(t, rt, reg, "hot", "swap", v1, false)
	ctx, cancel := context.WithCancel(context.Background())
	var calls, sawV2 atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				out, err := rt.Before(context.Background(), hooks.BeforeBanCreate, hot, []byte(`{"reason":"r"}`))
				if err != nil {
					errs <- err
					return
				}
				calls.Add(1)
				if strings.Contains(string(out), "v2: r") {
					sawV2.Add(1)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	install(t, rt, reg, "hot", "swap", v2, false)
	deadline := time.Now().Add(60 * time.Second)
	for sawV2.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a call failed during the swap: %v", err)
	}
	if sawV2.Load() < 10 {
		t.Fatalf("v2 never answered (%d calls)", calls.Load())
	}
	t.Logf("%d calls, %d by v2", calls.Load(), sawV2.Load())
}

// TestABI1 runs a module of the first ABI (cn_call with one JSON input,
// no cn_hook): the host still calls it.
func TestABI1(t *testing.T) {
	reg := newRegistry(t, "acme")
	rt := newRuntime(t, reg, nil)
	install(t, rt, reg, "acme", "raw", module(t, "testdata/raw", ""), false)
	req := []byte(`{"player_id":"p1","reason":"aimbot detected"}`)
	out, err := rt.Before(context.Background(), hooks.BeforeBanCreate, admin, req)
	if err != nil || string(out) != string(req) {
		t.Fatalf("Before = %s, %v", out, err)
	}
}
