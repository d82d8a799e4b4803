// Package deploy holds no Go code: it checks the deployment files beside
// it (the systemd unit, the Prometheus rules, the Grafana dashboard and
// the compose file) with the tools that consume them, in make test.
package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnit runs systemd-analyze verify on cassnet.service, with
// ExecStart pointed at an executable that exists here; any warning fails.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("cassnet.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "User=cassnet", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ReadWritePaths=/var/lib/cassnet", "LimitNOFILE=", "ExecStart=/usr/local/bin/cassnet agent",
	} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("cassnet.service lacks %q", want)
		}
	}
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := strings.Replace(string(unit), "ExecStart=/usr/local/bin/cassnet ", "ExecStart="+self+" ", 1)
	path := filepath.Join(dir, "cassnet.service")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tool, "verify", path)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	// verify also loads the units this one names (network-online.target,
	// multi-user.target); complaints about other units are not ours.
	var ours []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(l, "cassnet.service") {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
}

// TestAlertRules checks the rules with promtool and runs their unit tests
// (cassnet-rules.test.yaml).
func TestAlertRules(t *testing.T) {
	checkMetricNames(t, "prometheus/cassnet-rules.yaml")
	tool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "cassnet-rules.yaml"},
		{"test", "rules", "cassnet-rules.test.yaml"},
	} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestDashboard checks that the dashboard is valid JSON with a query in
// every panel, and names only metrics the nodes export.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/cassnet-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 8 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || p.Targets[0].Expr == "" {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
	checkMetricNames(t, "grafana/cassnet-dashboard.json")
}

var metricName = regexp.MustCompile(`cassnet_[a-z_]+`)

// checkMetricNames fails for every cassnet_* metric in file that
// docs/metrics.md does not list (histograms by their base name).
func checkMetricNames(t *testing.T, file string) {
	t.Helper()
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range metricName.FindAllString(string(b), -1) {
		base := m
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if seen[base] {
			continue
		}
		seen[base] = true
		if !bytes.Contains(doc, []byte("`"+base+"`")) {
			t.Errorf("%s uses %s, which docs/metrics.md does not list", file, m)
		}
	}
}

// TestComposeFile checks the compose file's safety properties: images are
// never pulled, and every published port is bound to 127.0.0.1.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "pull_policy: never") {
		t.Error("compose.yaml must set pull_policy: never")
	}
	ports := regexp.MustCompile(`ports: \[(.*)\]`).FindAllStringSubmatch(s, -1)
	if len(ports) != 3 {
		t.Fatalf("want 3 services publishing a port, found %d", len(ports))
	}
	for _, p := range ports {
		if !strings.HasPrefix(p[1], `"127.0.0.1:`) {
			t.Errorf("port %s is not bound to 127.0.0.1", p[1])
		}
	}
}
