package plugins_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/audit"
	"github.com/cassandranet/cassnet/state/plugins"
	"github.com/cassandranet/cassnet/state/settings"
	"github.com/cassandranet/cassnet/state/tenancy"
)

func newHarness(t testing.TB) (*harness, *plugins.Store) {
	t.Helper()
	h, p, _ := newAuditedHarness(t)
	return h, p
}

func newAuditedHarness(t testing.TB) (*harness, *plugins.Store, *audit.Store) {
	t.Helper()
	ten, set := tenancy.New(), settings.New()
	p, aud := plugins.New(ten), audit.New(set)
	h := newHarnessOver(t, []consensus.Module{ten, set, aud, p})
	h.mustApply(setStateVersion(consensus.SupportedStateVersion), createTenant("acme"), createTenant("other"))
	return h, p, aud
}

func putPlugin(tenant, name string, mod []byte) *cassnetv1.Command {
	sum := sha256.Sum256(mod)
	c := newCmd()
	c.Op = &cassnetv1.Command_PutPlugin{PutPlugin: &cassnetv1.PutPlugin{
		Tenant: tenant, Name: name, Module: mod, Sha256: sum[:], ManifestJson: `{"name":"x","hooks":[]}`}}
	return c
}

func setConfig(tenant, name, cfg string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_SetPluginConfig{SetPluginConfig: &cassnetv1.SetPluginConfig{Tenant: tenant, Name: name, ConfigJson: cfg}}
	return c
}

func deletePlugin(tenant, name string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_DeletePlugin{DeletePlugin: &cassnetv1.DeletePlugin{Tenant: tenant, Name: name}}
	return c
}

func deleteTenant(name string) *cassnetv1.Command {
	c := newCmd()
	c.Op = &cassnetv1.Command_DeleteTenant{DeleteTenant: &cassnetv1.DeleteTenant{Name: name}}
	return c
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestModulesAreStoredOncePerSHA256(t *testing.T) {
	h, s := newHarness(t)
	v1, v2 := []byte("\x00asm-one"), []byte("\x00asm-two")
	view := s.View()
	h.mustApply(putPlugin("acme", "a", v1), putPlugin("acme", "b", v1), putPlugin("other", "a", v1))
	select {
	case <-view.Changed():
	default:
		t.Fatal("Changed was not closed by a put")
	}
	if got := s.Snapshot().Counts()["modules"]; got != 1 {
		t.Fatalf("modules = %d, want 1 (three plugins, one sha256)", got)
	}
	h.mustApply(setConfig("acme", "a", `{"words":["x"]}`), putPlugin("acme", "a", v2))
	p, _ := s.Plugin("acme", "a")
	if p.SHA256 != hexSum(v2) || string(p.Config) != `{"words":["x"]}` {
		t.Fatalf("after replace: %+v (config must survive a new module)", p)
	}
	if got := s.Snapshot().Counts()["modules"]; got != 2 {
		t.Fatalf("modules = %d, want 2", got)
	}
	h.mustApply(deletePlugin("acme", "b"), deleteTenant("other"))
	if _, ok := s.Module(hexSum(v1)); ok {
		t.Fatal("v1 is still stored with no plugin using it")
	}
	if m, ok := s.Module(hexSum(v2)); !ok || string(m) != string(v2) {
		t.Fatal("v2 lost")
	}
	// Snapshot round trip gives the same hash; deleting everything gives
	// the empty hash back.
	before := h.freshHash()
	data := persist(t, h.FSM)
	h2, s2 := newHarness(t)
	restore(t, h2.FSM, data)
	if h2.freshHash() != before {
		t.Fatal("restored hash differs")
	}
	if p2, ok := s2.Plugin("acme", "a"); !ok || p2.SHA256 != p.SHA256 {
		t.Fatalf("restored plugin %+v", p2)
	}
	h.mustApply(deletePlugin("acme", "a"))
	if c := s.Snapshot().Counts(); c["plugins"]+c["modules"] != 0 {
		t.Fatalf("an emptied registry still holds %v", c)
	}
}

func TestRejects(t *testing.T) {
	h, _ := newHarness(t)
	bad := putPlugin("acme", "a", []byte("mod"))
	bad.GetPutPlugin().Sha256 = make([]byte, 32)
	big := putPlugin("acme", "a", make([]byte, plugins.MaxModuleBytes+1))
	noManifest := putPlugin("acme", "a", []byte("mod"))
	noManifest.GetPutPlugin().ManifestJson = "[]"
	for name, tc := range map[string]struct {
		cmd  *cassnetv1.Command
		want error
	}{
		"sha256 mismatch":   {bad, consensus.ErrInvalid},
		"too big":           {big, consensus.ErrInvalid},
		"manifest not obj":  {noManifest, consensus.ErrInvalid},
		"unknown tenant":    {putPlugin("ghost", "a", []byte("m")), consensus.ErrNotFound},
		"config not object": {setConfig("acme", "a", `[1]`), consensus.ErrInvalid},
		"config of nothing": {setConfig("acme", "zz", `{}`), consensus.ErrNotFound},
		"delete of nothing": {deletePlugin("acme", "zz"), consensus.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			if res := h.apply(tc.cmd); !errors.Is(res.Err, tc.want) {
				t.Fatalf("err = %v, want %v", res.Err, tc.want)
			}
		})
	}
}

func TestRecordFailureEmitsEvent(t *testing.T) {
	h, _, aud := newAuditedHarness(t)
	c := newCmd()
	c.Op = &cassnetv1.Command_RecordPluginFailure{RecordPluginFailure: &cassnetv1.RecordPluginFailure{
		Tenant: "acme", Name: "p", Hook: "before_ban_create", Kind: "timeout", Message: "deadline", Count: 3}}
	res := h.apply(c)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	e := aud.Entries("acme", 1)
	if len(e) != 1 || e[0].Action != plugins.EventFailed || e[0].Target != "p" {
		t.Fatalf("audit %+v", e)
	}
}
