package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
	"github.com/chromedp/chromedp"
)

// Hostile text of the newer domains: a UGC title, a webhook description
// and a fleet server's output.
const (
	xssTitle   = `<img src=x onerror=alert(4)>`
	xssDesc    = `<script>alert(6)</script>`
	xssLogLine = `<b>boot</b><img src=x onerror=alert(5)>`
	envSecret  = "hunter2-do-not-show"
)

// fleetScript writes the tiny game server the browser test's fleet runs
// (it never registers, so its record stays starting; that is enough for
// power, logs and process) and answers the directory for --fleet-allow.
func fleetScript(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	path = filepath.Join(dir, "tiny-server")
	script := "#!/bin/sh\necho '" + xssLogLine + "'\necho 'warming up' >&2\nwhile :; do echo \"tick $(date +%s)\"; sleep 1; done\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// openHash goes to a console URL fragment and waits until page id has
// rendered.
func (b *browser) openHash(t *testing.T, base, hash, id string) {
	t.Helper()
	b.do(t, "open "+hash,
		chromedp.Navigate(base+"/ui/"+hash),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="`+id+`"][data-ready="true"]`)))
}

// noMarkup fails when API text became elements on the page.
func noMarkup(t *testing.T, b *browser, where string) {
	t.Helper()
	if n := eval[int](t, b, `document.querySelectorAll("main img, main b, main script, main i").length`); n != 0 {
		t.Errorf("%s: %d elements were made from API text", where, n)
	}
}

// text answers the textContent of the first element matching css.
func text(t *testing.T, b *browser, css string) string {
	t.Helper()
	return eval[string](t, b, `(document.querySelector(`+jsString(css)+`)||{}).textContent||""`)
}

// waitBriefly polls cond for up to 8 s, for what only makes a screenshot
// nicer.
func waitBriefly(ctx context.Context, cond func() bool) {
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end) && ctx.Err() == nil && !cond(); {
		time.Sleep(250 * time.Millisecond)
	}
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// waitText waits until the first element matching css has text containing want.
func waitText(t *testing.T, ctx context.Context, b *browser, css, want string) {
	t.Helper()
	if err := testnet.WaitFor(ctx, func() error {
		if got := text(t, b, css); !strings.Contains(got, want) {
			return fmt.Errorf("%s has text %q, want %q", css, got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// exerciseDomains drives the fleets, UGC, webhooks and plugins pages as
// the operator: a fleet's spec, status and server (power, logs, process),
// moderating a hostile UGC item, creating a webhook to a local receiver
// and redelivering, and the plugins page.
func exerciseDomains(t *testing.T, ctx context.Context, b *browser, base string, cl *testnet.Client, n *testnet.Node, script string) {
	t.Helper()
	start := time.Now()
	defer func() {
		t.Logf("the fleets, UGC, webhooks and plugins steps took %v", time.Since(start).Round(100*time.Millisecond))
	}()
	// A fleet with a secret env value: the API redacts it.
	rest(t, ctx, cl, "PUT", n, "/v1/tenants/studio/projects/rocket/fleets/arena", map[string]any{
		"command": []string{script, "-batchmode"}, "env": map[string]string{"API_SECRET": envSecret},
		"buffer": map[string]int{"ready": 1}, "max_servers": 2, "labels": map[string]string{"mode": "ctf"},
	}, http.StatusCreated)
	var serverID string
	if err := testnet.WaitFor(ctx, func() error {
		var res struct {
			Servers []struct{ ID, Fleet string }
		}
		if err := rest(t, ctx, cl, "GET", n, "/v1/tenants/studio/servers", nil, http.StatusOK).JSON(&res); err != nil {
			return err
		}
		for _, s := range res.Servers {
			if s.Fleet == "arena" {
				serverID = s.ID
				return nil
			}
		}
		return fmt.Errorf("no server of fleet arena yet")
	}); err != nil {
		t.Fatal(err)
	}

	b.openHash(t, base, "#/fleets?project=rocket", "fleets")
	waitText(t, ctx, b, ".fleet-link", "arena")
	b.screenshot(t, "fleets")
	b.openHash(t, base, "#/fleets?project=rocket&fleet=arena", "fleets")
	spec := text(t, b, "pre.json")
	if !strings.Contains(spec, "[redacted]") || strings.Contains(spec, envSecret) {
		t.Errorf("the fleet's spec shows %q: want the env value redacted", spec)
	}
	waitText(t, ctx, b, ".server-link", serverID)
	b.screenshot(t, "fleet")
	b.check(t, "fleet")

	b.do(t, "open the server", chromedp.Click(chromedp.CSS(".server-link")),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="fleets"][data-ready="true"] #proc-stats`)))
	waitText(t, ctx, b, "#logs-state", "live")
	waitText(t, ctx, b, "#server-logs", "tick")
	if got := eval[[]string](t, b, `[...document.querySelectorAll("#server-logs .log-text")].map(e => e.textContent)`); !slices.Contains(got, xssLogLine) {
		t.Errorf("the server's log lines rendered as %q, want the text %q among them", got, xssLogLine)
	}
	waitText(t, ctx, b, "#proc-stats", "Memory")
	waitBriefly(ctx, func() bool { return !strings.Contains(text(t, b, "#proc-stats"), "0 B") }) // the node samples every 2 s
	noMarkup(t, b, "fleet server")
	b.screenshot(t, "fleet-server")
	b.do(t, "restart from the console", chromedp.Click(chromedp.ID("power-restart")))
	waitText(t, ctx, b, "#status", "restart sent to "+serverID)
	b.do(t, "arm kill", chromedp.Click(chromedp.CSS("#power button.danger:last-child")))
	if got := text(t, b, "#power button.danger:last-child"); got != "Confirm kill" {
		t.Errorf("kill asks no confirmation: its button reads %q", got)
	}
	b.check(t, "fleet server")

	// A hostile UGC item with a report, rejected from the console.
	var item struct{ ID string }
	if err := rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/projects/rocket/ugc/items", map[string]any{
		"title": xssTitle, "description": "A siege map " + xssDesc, "tags": []string{"map"}, "visibility": "public",
	}, http.StatusCreated).JSON(&item); err != nil {
		t.Fatal(err)
	}
	rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/projects/rocket/ugc/items/"+item.ID+"/reports",
		map[string]string{"reason": "offensive " + xssReason}, http.StatusCreated)
	b.openHash(t, base, "#/ugc?project=rocket&state=draft", "ugc")
	if got := text(t, b, ".ugc-title"); got != xssTitle {
		t.Errorf("the UGC title rendered as %q, want the text %q", got, xssTitle)
	}
	noMarkup(t, b, "ugc list")
	b.screenshot(t, "ugc")
	b.do(t, "open the item", chromedp.Click(chromedp.CSS(".ugc-title")), chromedp.WaitVisible(chromedp.ID("ugc-moderation")))
	b.do(t, "reject with a reason",
		chromedp.SendKeys(chromedp.ID("ugc-reason-input"), xssReason),
		chromedp.Click(chromedp.ID("ugc-reject")),
		chromedp.WaitVisible(chromedp.CSS(".ugc-reason")))
	if got := text(t, b, ".ugc-reason"); got != xssReason {
		t.Errorf("the moderation reason rendered as %q", got)
	}
	var it struct{ State, Reason string }
	if err := rest(t, ctx, cl, "GET", n, "/v1/tenants/studio/projects/rocket/ugc/items/"+item.ID, nil, http.StatusOK).JSON(&it); err != nil {
		t.Fatal(err)
	}
	if it.State != "rejected" || it.Reason != xssReason {
		t.Errorf("after rejecting in the console the item is %+v", it)
	}
	noMarkup(t, b, "ugc item")
	b.screenshot(t, "ugc-item")
	b.check(t, "ugc")

	// A webhook to a local receiver: created in the console (its secret
	// shown once), a ban delivers, and the console redelivers it.
	var got atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Cass-Signature") != "" {
			got.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	b.openHash(t, base, "#/webhooks", "webhooks")
	b.do(t, "create a webhook",
		chromedp.SendKeys(chromedp.ID("webhook-url"), recv.URL+"/hook"),
		chromedp.SendKeys(chromedp.ID("webhook-description"), xssDesc),
		chromedp.Click(chromedp.CSS(`#webhook-form input[value="ban.created"]`)),
		chromedp.Click(chromedp.ID("webhook-create")))
	if err := testnet.WaitFor(ctx, func() error {
		if s := text(t, b, "#status .bad"); s != "" {
			t.Fatalf("creating the webhook: %s", s)
		}
		if text(t, b, "#webhook-secret code") == "" {
			return fmt.Errorf("no secret shown")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s := text(t, b, "#webhook-secret code"); len(s) < 16 {
		t.Errorf("the webhook's secret shows as %q", s)
	}
	waitText(t, ctx, b, ".webhook-desc", xssDesc)
	noMarkup(t, b, "webhooks")
	b.screenshot(t, "webhooks")
	var whs struct{ Webhooks []struct{ ID string } }
	if err := rest(t, ctx, cl, "GET", n, "/v1/tenants/studio/webhooks", nil, http.StatusOK).JSON(&whs); err != nil || len(whs.Webhooks) != 1 {
		t.Fatalf("webhooks %+v %v", whs, err)
	}
	rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/bans", map[string]any{"player_id": "p-hook", "reason": "aimbot"}, http.StatusCreated)
	if err := testnet.WaitFor(ctx, func() error {
		if got.Load() < 1 {
			return fmt.Errorf("the receiver has no delivery")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.openHash(t, base, "#/webhooks?webhook="+whs.Webhooks[0].ID, "webhooks")
	b.do(t, "redeliver", chromedp.WaitVisible(chromedp.CSS(".redeliver")), chromedp.Click(chromedp.CSS(".redeliver")))
	if err := testnet.WaitFor(ctx, func() error {
		if got.Load() < 2 {
			return fmt.Errorf("the receiver has %d deliveries, want the redelivery too", got.Load())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.openHash(t, base, "#/webhooks?webhook="+whs.Webhooks[0].ID, "webhooks")
	waitText(t, ctx, b, "#webhook-deliveries", "delivered 204")
	waitBriefly(ctx, func() bool { return eval[int](t, b, `document.querySelectorAll(".redeliver").length`) >= 2 }) // the redelivery's attempt
	b.screenshot(t, "webhook-deliveries")
	b.openHash(t, base, "#/webhooks", "webhooks")
	b.do(t, "disable", chromedp.Click(chromedp.CSS(".webhook-toggle")))
	waitText(t, ctx, b, "#webhooks-list", "disabled")
	b.check(t, "webhooks")

	// Plugins: upload examples/plugins/hello-rpc from the file input,
	// edit its config, and read both back through REST.
	wasm := filepath.Join(t.TempDir(), "hello-rpc.wasm")
	build := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", wasm, "../examples/plugins/hello-rpc")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the hello-rpc plugin: %v\n%s", err, out)
	}
	b.openPage(t, base, "plugins")
	if got := text(t, b, "#plugins-list"); !strings.Contains(got, "No plugins") {
		t.Errorf("the plugins page shows %q before an upload", got)
	}
	b.do(t, "upload a plugin",
		chromedp.SendKeys(chromedp.ID("plugin-name"), "hello-rpc"),
		chromedp.SetUploadFiles(chromedp.ID("plugin-file"), []string{wasm}),
		chromedp.Click(chromedp.ID("plugin-upload")))
	waitText(t, ctx, b, "#plugins-list", "rpc hello")
	b.do(t, "edit its config",
		chromedp.Click(chromedp.CSS(".plugin-edit")),
		chromedp.WaitVisible(chromedp.ID("plugin-config")),
		chromedp.SetValue(chromedp.ID("plugin-config"), `{"greeting": "<b>hi</b>"}`),
		chromedp.Click(chromedp.ID("plugin-config-save")))
	if err := testnet.WaitFor(ctx, func() error {
		var pl struct {
			SHA256 string
			Config map[string]string
		}
		if err := rest(t, ctx, cl, "GET", n, "/v1/tenants/studio/plugins/hello-rpc", nil, http.StatusOK).JSON(&pl); err != nil {
			return err
		}
		if pl.Config["greeting"] != "<b>hi</b>" || len(pl.SHA256) != 64 {
			return fmt.Errorf("the plugin is %+v", pl)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.doSettled(t, "reopen the editor", chromedp.Click(chromedp.CSS(".plugin-edit")), chromedp.WaitVisible(chromedp.ID("plugin-config")))
	noMarkup(t, b, "plugins")
	b.screenshot(t, "plugins")
	// Delete it from the console (it has a before_ban_create hook, and
	// the screenshots' traffic creates bans).
	b.do(t, "delete the plugin",
		chromedp.Click(chromedp.CSS("#plugins-list button.danger")),
		chromedp.Click(chromedp.CSS("#plugins-list button.danger.armed")))
	waitText(t, ctx, b, "#plugins-list", "No plugins")
	rest(t, ctx, cl, "GET", n, "/v1/tenants/studio/plugins/hello-rpc", nil, http.StatusNotFound)
	b.check(t, "plugins")
}
