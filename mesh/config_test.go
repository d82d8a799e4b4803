package mesh

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	ok := func() Config {
		return Config{Name: "a", NodeID: "id-a", JoinToken: "tok", BindAddr: "127.0.0.1", BindPort: 7946}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"no name", func(c *Config) { c.Name = "" }, "Name is required"},
		{"no id", func(c *Config) { c.NodeID = "" }, "NodeID is required"},
		{"no token", func(c *Config) { c.JoinToken = "" }, "JoinToken is required"},
		{"bad seed", func(c *Config) { c.Seeds = []string{"nohostport"} }, "seed"},
		{"seed bad port", func(c *Config) { c.Seeds = []string{"h:99999"} }, "bad port"},
		{"bad port", func(c *Config) { c.BindPort = 70000 }, "out of range"},
		{"meta name mismatch", func(c *Config) { c.Meta.Name = "b" }, "differs from node name"},
		{"meta id mismatch", func(c *Config) { c.Meta.ID = "x" }, "differs from node ID"},
		{"meta too large", func(c *Config) { c.Meta.Version = strings.Repeat("v", 600) }, "MetaMaxSize"},
		{"probe timeout", func(c *Config) { c.Timing.ProbeTimeout = 2 * time.Second }, "ProbeTimeout"},
		{"negative", func(c *Config) { c.ReconnectInterval = -1 }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			_, err := New(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	m, err := New(Config{Name: "a", NodeID: "id-a", JoinToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	c := m.cfg
	if c.BindAddr != DefaultBindAddr || c.BindPort != DefaultBindPort || c.AdvertisePort != DefaultBindPort {
		t.Errorf("bind defaults: %s:%d adv %d", c.BindAddr, c.BindPort, c.AdvertisePort)
	}
	if c.ReconnectInterval != DefaultReconnectInterval || c.ReconnectTimeout != DefaultReconnectTimeout || c.JoinRetryMax != DefaultJoinRetryMax {
		t.Errorf("durations: %v %v %v", c.ReconnectInterval, c.ReconnectTimeout, c.JoinRetryMax)
	}
	if c.Timing != DefaultTiming() {
		t.Errorf("timing %+v", c.Timing)
	}
	if c.Meta.Name != "a" || c.Meta.ID != "id-a" || c.Meta.Role != RoleServer {
		t.Errorf("meta %+v", c.Meta)
	}
	// Before Start the mesh is just the local node.
	if got := m.Members(); len(got) != 1 || got[0].Name != "a" || got[0].Status != StatusAlive {
		t.Errorf("members before start: %+v", got)
	}
	if m.NumAlive() != 1 {
		t.Errorf("NumAlive = %d", m.NumAlive())
	}
	if err := m.Leave(t.Context()); err != ErrNotStarted {
		t.Errorf("Leave before Start: %v", err)
	}
	if err := m.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != ErrClosed {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

func TestConfigLogValueOmitsToken(t *testing.T) {
	const secret = "super-secret-token-value"
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", Config{Name: "a", JoinToken: secret})
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("token logged: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"join_token_set":true`) {
		t.Fatalf("missing join_token_set: %s", buf.String())
	}
}

func TestSuspicionHold(t *testing.T) {
	d := DefaultTiming()
	// 2 × 3 × 500 ms + 500 ms for clusters below ten nodes.
	if got := d.suspicionHold(3); got != 3500*time.Millisecond {
		t.Fatalf("hold(3) = %v", got)
	}
	if got := d.suspicionHold(100); got != 6500*time.Millisecond {
		t.Fatalf("hold(100) = %v", got)
	}
}
