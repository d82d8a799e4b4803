package plugin_test

import (
	"crypto/sha256"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cassandranet/cassnet/consensus"
	"github.com/cassandranet/cassnet/plugin/plugintest"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/plugins"
	"github.com/cassandranet/cassnet/state/tenancy"
)

var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugin-test-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string][]byte{}
)

// module builds a plugin once per test binary: "ban-policy" and the other
// examples, or "testdata/loop" and the other hostile ones.
func module(tb testing.TB, name, ldflags string) []byte {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name+ldflags]; ok {
		return b
	}
	dir := "examples/plugins/" + name
	if len(name) > 9 && name[:9] == "testdata/" {
		dir = "plugin/" + name
	}
	b := plugintest.Build(tb, dir, buildDir, ldflags)
	built[name+ldflags] = b
	return b
}

// registry is a plugins.Store fed by an FSM, as on a node.
type registry struct {
	tb    testing.TB
	mu    sync.Mutex
	fsm   *consensus.FSM
	store *plugins.Store
	index uint64
}

func newRegistry(tb testing.TB, tenants ...string) *registry {
	tb.Helper()
	ten := tenancy.New()
	st := plugins.New(ten)
	fsm, err := consensus.NewFSM([]consensus.Module{ten, st}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := &registry{tb: tb, fsm: fsm, store: st}
	r.apply(&cassnetv1.Command{Op: &cassnetv1.Command_SetStateVersion{SetStateVersion: &cassnetv1.SetStateVersion{Version: consensus.SupportedStateVersion}}})
	for _, t := range tenants {
		r.apply(&cassnetv1.Command{Op: &cassnetv1.Command_CreateTenant{CreateTenant: &cassnetv1.CreateTenant{Name: t}}})
	}
	return r
}

func (r *registry) View() plugins.View { return r.store.View() }

func (r *registry) apply(cmd *cassnetv1.Command) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd.Version, cmd.Actor = consensus.CommandVersion, "operator:test"
	cmd.TimeUnixNano = time.Now().UnixNano()
	data, err := consensus.EncodeCommand(cmd)
	if err != nil {
		r.tb.Fatal(err)
	}
	r.index++
	res := r.fsm.Apply(&raft.Log{Index: r.index, Term: 1, Type: raft.LogCommand, Data: data}).(*consensus.ApplyResult)
	if res.Err != nil {
		r.tb.Fatalf("apply: %v", res.Err)
	}
}

func (r *registry) put(tenant, name string, mod []byte, manifest string, failOpen bool) {
	r.tb.Helper()
	sum := sha256.Sum256(mod)
	r.apply(&cassnetv1.Command{Op: &cassnetv1.Command_PutPlugin{PutPlugin: &cassnetv1.PutPlugin{
		Tenant: tenant, Name: name, Module: mod, Sha256: sum[:], ManifestJson: manifest, FailOpen: failOpen}}})
}

func (r *registry) config(tenant, name, cfg string) {
	r.tb.Helper()
	r.apply(&cassnetv1.Command{Op: &cassnetv1.Command_SetPluginConfig{SetPluginConfig: &cassnetv1.SetPluginConfig{
		Tenant: tenant, Name: name, ConfigJson: cfg}}})
}
