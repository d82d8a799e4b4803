package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A node restarted with only its data dir gets back its identity and
// addresses; a flag given explicitly wins; a different name is refused.
func TestRestartWithOnlyDataDir(t *testing.T) {
	dir := t.TempDir()
	first := Defaults()
	first.DataDir, first.Name, first.Bind, first.HTTPPort = dir, "n7", "127.0.0.7", 18080
	first.Join = []string{"127.0.0.1:7946"}
	if err := first.validate(); err != nil {
		t.Fatal(err)
	}
	if err := savePersisted(&first, "id-7"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, nodeFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node.json: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	again := Defaults()
	again.DataDir = dir
	id, err := mergePersisted(&again, map[string]bool{"data-dir": true})
	if err != nil {
		t.Fatal(err)
	}
	if id != "id-7" || again.Name != "n7" || again.Bind != "127.0.0.7" || again.HTTPPort != 18080 ||
		len(again.Join) != 1 || again.Join[0] != "127.0.0.1:7946" {
		t.Fatalf("restored id %q, config %+v", id, again)
	}

	override := Defaults()
	override.DataDir, override.HTTPPort = dir, 19090
	if _, err := mergePersisted(&override, map[string]bool{"data-dir": true, "http-port": true}); err != nil {
		t.Fatal(err)
	}
	if override.HTTPPort != 19090 || override.Bind != "127.0.0.7" {
		t.Fatalf("explicit --http-port lost or bind not restored: %+v", override)
	}

	renamed := Defaults()
	renamed.DataDir, renamed.Name = dir, "other"
	if _, err := mergePersisted(&renamed, map[string]bool{"name": true}); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("renaming a data dir's node: err = %v, want a refusal", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := Defaults()
		c.DataDir, c.Name = "/tmp/x", "n1"
		return c
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"defaults", func(*Config) {}, true},
		{"five voters", func(c *Config) { c.Voters = 5 }, true},
		{"even voters", func(c *Config) { c.Voters = 2 }, false},
		{"no data dir", func(c *Config) { c.DataDir = "" }, false},
		{"bind not an IP", func(c *Config) { c.Bind = "localhost" }, false},
		{"unspecified bind without advertise", func(c *Config) { c.Bind = "0.0.0.0" }, false},
		{"unspecified bind with advertise", func(c *Config) { c.Bind, c.Advertise = "0.0.0.0", "10.0.0.5" }, true},
		{"port out of range", func(c *Config) { c.HTTPPort = 70000 }, false},
		{"advertise a host name", func(c *Config) { c.Bind, c.Advertise = "0.0.0.0", "cassnet-2" }, true},
		{"advertise not a host name", func(c *Config) { c.Bind, c.Advertise = "0.0.0.0", "bad host!" }, false},
		{"advertise unspecified", func(c *Config) { c.Bind, c.Advertise = "0.0.0.0", "0.0.0.0" }, false},
	}
	for _, tc := range cases {
		c := base()
		tc.edit(&c)
		if err := c.validate(); (err == nil) != tc.valid {
			t.Errorf("%s: validate() = %v, want valid=%v", tc.name, err, tc.valid)
		}
	}
}
