package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cassnet.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Precedence is flags > environment > config file > defaults, and a value
// from any layer counts as set by the operator (it overrides what the
// data dir remembers).
func TestConfigPrecedence(t *testing.T) {
	path := writeConfig(t, `
data-dir = "/from/file"
bind = "10.0.0.9"
voters = 5
dead-server-grace = "45s"
join = ["10.0.0.1", "10.0.0.2:7946"]
http-tls = true
rate-limit-key = 12.5
rate-limit-tenant = 300
log-level = "debug"
`)
	t.Setenv("CASS_BIND", "10.0.0.8")
	t.Setenv("CASS_VOTERS", "3")
	a, err := parseAgent([]string{"--config", path, "--voters", "7"})
	if err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if c.Voters != 7 || c.Bind != "10.0.0.8" || c.DataDir != "/from/file" || c.DeadServerGrace != 45*time.Second ||
		!c.HTTPTLS || c.RateLimits.KeyRate != 12.5 || c.RateLimits.TenantRate != 300 || a.logLevel != "debug" ||
		strings.Join(c.Join, ",") != "10.0.0.1,10.0.0.2:7946" {
		t.Fatalf("config: %+v", c)
	}
	if c.StabilizationTime != 10*time.Second || c.GossipPort != 7946 {
		t.Fatalf("defaults lost: %+v", c)
	}
	want := map[string]string{"voters": fromFlag, "bind": fromEnv, "data-dir": fromFile, "config": fromFlag}
	for k, v := range want {
		if a.src[k] != v {
			t.Errorf("%s from %q, want %q", k, a.src[k], v)
		}
	}
	if _, ok := a.src["stabilization-time"]; ok {
		t.Error("a default is reported as set")
	}
	if ex := a.explicit(); !ex["data-dir"] || !ex["bind"] || ex["stabilization-time"] {
		t.Errorf("explicit = %v", ex)
	}

	// The file can be named through the environment too.
	t.Setenv("CASS_CONFIG", path)
	a, err = parseAgent(nil)
	if err != nil || a.cfg.DataDir != "/from/file" || a.cfg.Voters != 3 {
		t.Fatalf("CASS_CONFIG: %v, %+v", err, a)
	}
}

// Every public agent flag can be set from the file.
func TestConfigFileCoversEveryFlag(t *testing.T) {
	a, err := parseAgent(nil)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	a.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag || isHidden(f) {
			return
		}
		var v string
		switch tomlValue(f).(type) {
		case bool:
			v = "true"
		case string:
			if f.Name == "log-level" {
				v = `"warn"`
			} else if f.Name == "log-format" {
				v = `"json"`
			} else if _, ok := getterValue(f).(time.Duration); ok {
				v = `"7s"`
			} else {
				v = `"x"`
			}
		case []string:
			v = `["a", "b"]`
		case float64:
			v = "1.5"
		default:
			v = "7"
		}
		fmt.Fprintf(&body, "%s = %s\n", f.Name, v)
	})
	path := writeConfig(t, body.String())
	a, err = parseAgent([]string{"--config", path})
	if err != nil {
		t.Fatalf("%v\nfile:\n%s", err, body.String())
	}
	a.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag || isHidden(f) {
			return
		}
		if a.src[f.Name] != fromFile {
			t.Errorf("--%s not taken from the file (source %q)", f.Name, a.src[f.Name])
		}
	})
}

func TestConfigFileErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", "data-dir = \"/d\"\nbogus-key = 1\n", `key "bogus-key": unknown key`},
		{"test-only flag", "unsafe-ack-before-commit = true\n", `key "unsafe-ack-before-commit": unknown key`},
		{"table", "[mesh]\nbind = \"x\"\n", `key "mesh": unknown key`},
		{"wrong type", "voters = \"three\"\n", `key "voters": invalid whole number "three"`},
		{"bool as string", "bootstrap = \"yes\"\n", `key "bootstrap": takes true or false`},
		{"duration without unit", "dead-server-grace = 30\n", `key "dead-server-grace": takes a duration with a unit`},
		{"list for a scalar", "bind = [\"a\"]\n", `key "bind": takes one value, not a list`},
		{"nested config", "config = \"other.toml\"\n", `key "config": the config file cannot name another`},
		{"syntax", "voters = \n", "config file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAgent([]string{"--config", writeConfig(t, tc.body)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := parseAgent([]string{"--config", "/does/not/exist.toml"}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// --print-config prints a config file that parses back to the same
// settings, with every source and the join token redacted.
func TestPrintConfig(t *testing.T) {
	path := writeConfig(t, "token = \"CN1::c::f::supersecret\"\nvoters = 5\njoin = [\"10.0.0.1\"]\n")
	a, err := parseAgent([]string{"--config", path, "--data-dir", "/d", "--print-config"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.printConfig {
		t.Fatal("--print-config not seen")
	}
	var out bytes.Buffer
	if err := printConfig(&out, a.fs, a.src); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Contains(s, "supersecret") {
		t.Fatalf("secret printed:\n%s", s)
	}
	for _, want := range []string{
		`token = "<redacted>"`, "# file", `data-dir = "/d"`, "# flag", "voters = 5", `join = ["10.0.0.1"]`,
		`dead-server-grace = "30s"`, "# default",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "unsafe-ack") || strings.Contains(s, "print-config") {
		t.Errorf("hidden or meta flags printed:\n%s", s)
	}
	// The printed file (minus the redacted token) is a valid config file.
	var kept []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "token =") {
			kept = append(kept, l)
		}
	}
	b, err := parseAgent([]string{"--config", writeConfig(t, strings.Join(kept, "\n"))})
	if err != nil {
		t.Fatalf("printed config does not parse back: %v", err)
	}
	if b.cfg.Voters != 5 || b.cfg.DataDir != "/d" || b.cfg.DeadServerGrace != 30*time.Second {
		t.Fatalf("round trip: %+v", b.cfg)
	}
}

// The UGC store's keys work in the config file, and reach node.Config
// (S3Config non-nil, limits, public URL, GC interval).
func TestConfigFileUGC(t *testing.T) {
	path := writeConfig(t, `
ugc-s3-endpoint = "http://127.0.0.1:7070"
ugc-s3-bucket = "ugc"
ugc-s3-prefix = "cassnet/"
ugc-s3-region = "eu-west-1"
ugc-s3-credentials-file = "/etc/cassnet/s3"
ugc-s3-path-style = true
ugc-max-upload-bytes = 1048576
ugc-public-url = "https://ugc.example.com"
ugc-gc-interval = "2s"
`)
	a, err := parseAgent([]string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	u := a.cfg.UGC
	s3 := u.S3Config()
	if s3 == nil || s3.Endpoint != "http://127.0.0.1:7070" || s3.Bucket != "ugc" || s3.Prefix != "cassnet/" ||
		s3.Region != "eu-west-1" || s3.CredentialsFile != "/etc/cassnet/s3" || !s3.PathStyle {
		t.Fatalf("s3 config: %+v", s3)
	}
	if u.MaxUploadBytes != 1<<20 || u.PublicURL != "https://ugc.example.com" || u.GCInterval != 2*time.Second {
		t.Fatalf("ugc config: %+v", u)
	}
	if a, err := parseAgent(nil); err != nil || a.cfg.UGC.S3Config() != nil || a.cfg.UGC.GCInterval != 30*time.Second {
		t.Fatalf("defaults: %v %+v", err, a.cfg.UGC)
	}
}
