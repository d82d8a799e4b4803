package settings_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cassandranet/cassnet/consensus"
	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/state/settings"
)

func newHarness(t testing.TB) (*harness, *settings.Store) {
	t.Helper()
	s := settings.New()
	return newHarnessOver(t, []consensus.Module{s}), s
}

func TestDefaults(t *testing.T) {
	_, s := newHarness(t)
	got := s.Get()
	want := settings.Settings{
		AuditRetention:       settings.DefaultAuditRetention,
		MaxSessionTTLSeconds: settings.DefaultMaxSessionTTLSeconds,
		BanRetentionSeconds:  settings.DefaultBanRetentionSeconds,
	}
	if got != want || got.BanRetention().Hours() != 30*24 || got.MaxSessionTTL().Hours() != 24 {
		t.Fatalf("Get = %+v, want %+v", got, want)
	}
}

func TestSetSettings(t *testing.T) {
	both := func(r, ttl, ban uint32) *cassnetv1.Command {
		c := setSettings(r)
		c.GetSetSettings().MaxSessionTtlSeconds = ttl
		c.GetSetSettings().BanRetentionSeconds = ban
		return c
	}
	tests := []struct {
		name    string
		raise   bool
		cmd     *cassnetv1.Command
		wantErr error
		want    settings.Settings
	}{
		{name: "audit retention", cmd: setSettings(5), want: settings.Settings{AuditRetention: 5, MaxSessionTTLSeconds: 86400, BanRetentionSeconds: 2592000}},
		{name: "session ttl", cmd: setSessionTTL(60), want: settings.Settings{AuditRetention: 10000, MaxSessionTTLSeconds: 60, BanRetentionSeconds: 2592000}},
		{name: "two at once", cmd: both(7, 120, 0), want: settings.Settings{AuditRetention: 7, MaxSessionTTLSeconds: 120, BanRetentionSeconds: 2592000}},
		{name: "ban retention at state version 1", cmd: setBanRetention(3600), wantErr: consensus.ErrStateVersion},
		{name: "ban retention with others at state version 1", cmd: both(7, 0, 3600), wantErr: consensus.ErrStateVersion},
		{name: "ban retention at state version 2", raise: true, cmd: setBanRetention(3600), want: settings.Settings{AuditRetention: 10000, MaxSessionTTLSeconds: 86400, BanRetentionSeconds: 3600}},
		{name: "ban retention too short", raise: true, cmd: setBanRetention(settings.MinBanRetention - 1), wantErr: consensus.ErrInvalid},
		{name: "ban retention too long", raise: true, cmd: setBanRetention(settings.MaxBanRetention + 1), wantErr: consensus.ErrInvalid},
		{name: "nothing set", cmd: setSettings(0), wantErr: consensus.ErrInvalid},
		{name: "ttl too long", cmd: setSessionTTL(settings.MaxSessionTTLLimit + 1), wantErr: consensus.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, s := newHarness(t)
			if tt.raise {
				h.mustApply(setStateVersion(consensus.StateVersionDomains))
			}
			before := h.fsm.Hash()
			res := h.apply(tt.cmd)
			if tt.wantErr != nil {
				if !errors.Is(res.Err, tt.wantErr) {
					t.Fatalf("Err = %v, want %v", res.Err, tt.wantErr)
				}
				if h.fsm.Hash() != before || s.Get() != settings.New().Get() {
					t.Fatal("a refused SetSettings changed the settings")
				}
				return
			}
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if got := s.Get(); got != tt.want {
				t.Fatalf("Get = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestBanRetentionHashAndSnapshot checks that a state that never set the
// ban retention hashes and snapshots as the first release did, and that a
// set one is hashed, snapshotted and restored.
func TestBanRetentionHashAndSnapshot(t *testing.T) {
	h, _ := newHarness(t)
	h.mustApply(setSettings(9), setStateVersion(consensus.StateVersionDomains))
	unset, data := h.fsm.Hash(), persist(t, h.fsm)
	if strings.Contains(string(data), "ban_retention") {
		t.Fatalf("snapshot writes an unset ban retention: %s", data)
	}
	h.mustApply(setBanRetention(settings.DefaultBanRetentionSeconds))
	if h.fsm.Hash() == unset {
		t.Fatal("setting the ban retention (even to the default) does not change the hash")
	}
	g, gs := newHarness(t)
	restore(t, g.fsm, persist(t, h.fsm))
	if g.fsm.Hash() != h.fsm.Hash() || gs.Get().AuditRetention != 9 {
		t.Fatal("settings lost in the round trip")
	}
}

func TestHashCoversEverySettingsField(t *testing.T) {
	setup := func(t *testing.T) *harness {
		h, _ := newHarness(t)
		h.mustApply(setStateVersion(consensus.StateVersionDomains), setBanRetention(7200))
		return h
	}
	hashCoversFields(t, setup, func(h *harness, fn func(*settings.Settings)) {
		settings.Edit(h.modules[0].(*settings.Store), fn)
	})
}
