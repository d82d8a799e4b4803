package console_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
	"github.com/cassandranet/cassnet/testnet"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// What players type, and what must stay text.
const (
	xssReason = `<img src=x onerror=alert(1)>`
	// Labels are replicated in Kubernetes label syntax, so the hostile
	// text a game server can still send is its address.
	xssAddress = `<b>dust</b><img src=x onerror=alert(2)><script>alert(3)</script>`
)

// pages are the console's pages, in navigation order.
var pages = []string{"overview", "servers", "fleets", "players", "bans", "ugc", "audit", "topics", "webhooks", "plugins", "keys", "cluster", "tenants"}

// rest calls the REST API and checks the status.
func rest(t *testing.T, ctx context.Context, cl *testnet.Client, method string, n *testnet.Node, path string, body any, want int) *testnet.Response {
	t.Helper()
	resp, err := cl.Do(ctx, method, n.HTTPAddr(), path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.Status, resp.Body, want)
	}
	return resp
}

// seed creates the tenant the browser works in, and registers a game
// server with a hostile address and one connected player on node n.
func seed(t *testing.T, ctx context.Context, cl *testnet.Client, n *testnet.Node) (adminKey, readKey string) {
	t.Helper()
	rest(t, ctx, cl, "POST", n, "/v1/tenants", map[string]string{"name": "studio"}, http.StatusCreated)
	rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/projects", map[string]string{"name": "rocket"}, http.StatusCreated)
	var key struct{ Key string }
	if err := rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/keys",
		map[string]string{"name": "fleet", "role": "tenant-admin"}, http.StatusCreated).JSON(&key); err != nil {
		t.Fatal(err)
	}
	var ro struct{ Key string }
	if err := rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/keys",
		map[string]string{"name": "support", "role": "read-only"}, http.StatusCreated).JSON(&ro); err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	if err := rest(t, ctx, testnet.NewClient(key.Key), "POST", n, "/v1/tenants/studio/sessions",
		map[string]string{"player_id": "p-7", "project_id": "rocket"}, http.StatusCreated).JSON(&sess); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(net.JoinHostPort(n.IP, strconv.Itoa(n.Ports.GRPC)), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	gs := cassnetv1.NewGameServerServiceClient(conn)
	gctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key.Key)
	if _, err := gs.Register(gctx, &cassnetv1.RegisterRequest{
		ServerId: "gs-eu-1", ProjectId: "rocket", Address: xssAddress, Capacity: 16,
		Labels: map[string]string{"map": "dust", "region": "eu-west"},
	}); err != nil {
		t.Fatalf("register game server: %v", err)
	}
	if _, err := gs.Ready(gctx, &cassnetv1.ReadyRequest{ServerId: "gs-eu-1"}); err != nil {
		t.Fatalf("ready: %v", err)
	}
	if v, err := gs.PlayerConnect(gctx, &cassnetv1.PlayerConnectRequest{ServerId: "gs-eu-1", Token: sess.Token}); err != nil || !v.Valid {
		t.Fatalf("player connect: %v %v", v, err)
	}
	// Health pings keep the server healthy until the test ends.
	hctx, stop := context.WithCancel(gctx)
	done := make(chan struct{})
	t.Cleanup(func() { stop(); <-done })
	stream, err := gs.Health(hctx)
	if err != nil {
		t.Fatalf("health stream: %v", err)
	}
	go func() {
		defer close(done)
		for {
			if stream.Send(&cassnetv1.HealthPing{ServerId: "gs-eu-1"}) != nil {
				return
			}
			select {
			case <-hctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return key.Key, ro.Key
}

// TestConsoleInBrowser logs in, opens every page with no console error and
// no failed request, bans a player from the UI and reads the ban through
// REST on another node, checks that hostile text stays text, and logs
// out and is refused.
func TestConsoleInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	fleetDir, script := fleetScript(t)
	c, cl := startCluster(t, ctx, "--fleet-allow", fleetDir, "--webhook-allow-private", "--webhook-allow-http", "--plugin-interpreter")
	nodes := c.Nodes()
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	base := "http://" + n1.HTTPAddr()
	adminKey, readKey := seed(t, ctx, cl, n2) // the server lives on n2: the console sees it in n1's replica

	b := newBrowser(t, ctx)
	b.do(t, "open the login page",
		chromedp.Navigate(base+"/"), // redirects to /ui/
		chromedp.WaitVisible(chromedp.ID("credential")))
	b.screenshot(t, "login")
	b.do(t, "log in",
		chromedp.SendKeys(chromedp.ID("credential"), c.AdminToken()),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="overview"][data-ready="true"]`)))
	b.check(t, "login")

	// The session cookie is HttpOnly and SameSite=Strict.
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cookies.Cookies, func(c *network.Cookie) bool { return c.Name == "cass_session" })
	if i < 0 {
		t.Fatal("no cass_session cookie after login")
	}
	session := cookies.Cookies[i]
	if !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Expires <= 0 {
		t.Fatalf("session cookie flags: httpOnly=%v sameSite=%q expires=%v", session.HTTPOnly, session.SameSite, session.Expires)
	}
	if js := eval[string](t, b, "document.cookie"); strings.Contains(js, session.Value) {
		t.Fatal("the session cookie is readable from JavaScript")
	}

	// The overview merges every node's metrics history, fetched by n1.
	var hist struct {
		Nodes       []struct{ Node string }
		Unreachable []string
	}
	if err := rest(t, ctx, cl, "GET", n1, "/v1/metrics/history", nil, http.StatusOK).JSON(&hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Nodes) != 3 || len(hist.Unreachable) != 0 {
		t.Errorf("n1's cluster-wide history has nodes %+v, unreachable %v", hist.Nodes, hist.Unreachable)
	}
	if legend := eval[[]string](t, b, `[...document.querySelectorAll("[data-chart=requests_per_s] .legend > span")].map(e => e.textContent)`); !slices.Equal(legend, []string{"n1", "n2", "n3"}) {
		t.Errorf("the requests chart has lines for %v, want n1 n2 n3", legend)
	}

	// Every page renders with no console error and no failed request.
	for _, id := range pages {
		b.openPage(t, base, id)
		b.check(t, "page "+id)
	}
	if got := eval[int](t, b, `document.querySelectorAll("nav a").length`); got != len(pages) {
		t.Errorf("an operator sees %d pages in the navigation, want %d", got, len(pages))
	}

	// Ban a player from the UI; the ban is replicated and read on n3.
	b.do(t, "ban from the players page",
		chromedp.Navigate(base+"/ui/#/players?id=p-42"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="players"][data-ready="true"]`)),
		chromedp.SendKeys(chromedp.ID("ban-reason"), xssReason),
		chromedp.Click(chromedp.ID("ban-submit")),
		chromedp.WaitVisible(chromedp.CSS(".ban-reason")))
	b.check(t, "ban")
	if got := eval[string](t, b, `document.querySelector(".ban-reason").textContent`); got != xssReason {
		t.Errorf("ban reason rendered as %q, want the text %q", got, xssReason)
	}
	err = testnet.WaitFor(ctx, func() error {
		var bans struct {
			Bans []struct{ PlayerID, Reason string }
		}
		resp := rest(t, ctx, cl, "GET", n3, "/v1/tenants/studio/bans?stale&player_id=p-42", nil, http.StatusOK)
		if err := resp.JSON(&bans); err != nil {
			return err
		}
		if len(bans.Bans) != 1 || bans.Bans[0].Reason != xssReason {
			return fmt.Errorf("n3 has bans %+v", bans.Bans)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the ban made in the UI is not readable on n3: %v", err)
	}
	b.screenshot(t, "players")

	// Hostile text stays text on every page that shows it.
	b.openPage(t, base, "bans")
	if got := eval[string](t, b, `document.querySelector(".ban-reason").textContent`); got != xssReason {
		t.Errorf("bans page: reason %q", got)
	}
	b.do(t, "servers page shows the hostile address",
		chromedp.Navigate(base+"/ui/#/servers"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="servers"][data-ready="true"] .chip`)))
	labels := eval[[]string](t, b, `[...document.querySelectorAll("main .chip")].map(e => e.textContent)`)
	if !slices.Contains(labels, "map=dust") {
		t.Errorf("server labels rendered as %q, want map=dust", labels)
	}
	if got := eval[[]string](t, b, `[...document.querySelectorAll("main .mono")].map(e => e.textContent)`); !slices.Contains(got, xssAddress) {
		t.Errorf("server address rendered as %q, want the text %q", got, xssAddress)
	}
	if n := eval[int](t, b, `document.querySelectorAll("main img, main b, main script").length`); n != 0 {
		t.Errorf("%d elements were made from API text", n)
	}
	b.check(t, "xss probe")

	// The topics page tails a topic over SSE with the session cookie;
	// a published message with markup arrives as text.
	b.do(t, "tail a topic and publish",
		chromedp.Navigate(base+"/ui/#/topics"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="topics"][data-ready="true"]`)),
		chromedp.Click(chromedp.ID("topic-tail-start")),
		chromedp.WaitVisible(chromedp.CSS(`#topic-state`)))
	if err := testnet.WaitFor(ctx, func() error {
		if s := eval[string](t, b, `document.getElementById("topic-state").textContent`); !strings.HasPrefix(s, "live") {
			return fmt.Errorf("tail state %q", s)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.do(t, "publish",
		chromedp.SendKeys(chromedp.ID("topic-message"), "<i>gg</i> wp"),
		chromedp.Click(chromedp.ID("topic-publish")),
		chromedp.WaitVisible(chromedp.CSS("#topic-tail .ev-message")))
	if got := eval[string](t, b, `document.querySelector("#topic-tail .ev-message").textContent`); !strings.HasSuffix(got, "<i>gg</i> wp") {
		t.Errorf("tailed message rendered as %q", got)
	}
	b.screenshot(t, "topics")
	b.check(t, "topics")

	exerciseDomains(t, ctx, b, base, cl, n1, script)

	// The screenshots of docs/console.md, and the API reference.
	if *screenshots != "" {
		makeTraffic(t, ctx, cl, nodes, 80*time.Second) // so that the charts have a shape
		for _, id := range pages {
			if id == "players" || id == "topics" || id == "fleets" || id == "ugc" || id == "webhooks" || id == "plugins" {
				continue // taken above, with data in them
			}
			b.openPage(t, base, id)
			b.screenshot(t, id)
		}
		b.check(t, "screenshots")
	}
	b.do(t, "open the API reference",
		chromedp.Navigate(base+"/docs/"),
		chromedp.WaitVisible(chromedp.CSS(".swagger-ui .info")))
	b.screenshot(t, "docs")
	b.check(t, "docs")

	measureFirstRender(t, b, base)

	// Log out: the console shows the login form, and the old cookie is
	// refused by every route.
	b.do(t, "log out",
		chromedp.Navigate(base+"/ui/#/overview"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="overview"][data-ready="true"]`)),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("credential")))
	b.check(t, "logout")
	b.expectErrors(true)
	if got := eval[int](t, b, `fetch("/v1/tenants", {credentials: "same-origin"}).then(r => r.status)`); got != http.StatusUnauthorized {
		t.Errorf("after logout the browser's request answered %d, want 401", got)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/tenants", nil)
	req.AddCookie(&http.Cookie{Name: "cass_session", Value: session.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the logged-out cookie replayed answered %d, want 401", resp.StatusCode)
	}
	b.expectErrors(false)
	b.do(t, "a reload shows the login form",
		chromedp.Navigate(base+"/ui/#/bans"),
		chromedp.WaitVisible(chromedp.ID("credential")))
	b.check(t, "after logout")

	// Tenant API keys see their tenant's pages only, and every page they
	// see works with their role: no 403 anywhere.
	for _, k := range []struct {
		name, cred string
		pages      []string
	}{
		{"tenant-admin", adminKey, []string{"overview", "servers", "fleets", "players", "bans", "ugc", "audit", "topics", "webhooks", "plugins", "keys", "tenants"}},
		{"read-only", readKey, []string{"overview", "servers", "fleets", "players", "bans", "ugc", "audit"}},
	} {
		b.do(t, "log in as "+k.name,
			chromedp.Navigate(base+"/ui/"),
			chromedp.WaitVisible(chromedp.ID("credential")),
			chromedp.SendKeys(chromedp.ID("credential"), k.cred),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(`.page[data-page="overview"][data-ready="true"]`)))
		got := eval[[]string](t, b, `[...document.querySelectorAll("nav a")].map(a => a.dataset.page)`)
		if !slices.Equal(got, k.pages) {
			t.Errorf("%s sees pages %v, want %v", k.name, got, k.pages)
		}
		for _, id := range k.pages {
			b.openPage(t, base, id)
			b.check(t, k.name+" page "+id)
		}
		b.do(t, "log out "+k.name, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("credential")))
		b.check(t, k.name+" logout")
	}
}

// measureFirstRender loads the overview five times in a fresh document
// and logs the median time to its rendered mark (docs/benchmarks.md).
func measureFirstRender(t *testing.T, b *browser, base string) {
	t.Helper()
	var ms []float64
	for range 5 {
		b.do(t, "load the overview",
			chromedp.Navigate("about:blank"),
			chromedp.Navigate(base+"/ui/#/overview"),
			chromedp.WaitVisible(chromedp.CSS(`.page[data-page="overview"][data-ready="true"]`)))
		ms = append(ms, eval[float64](t, b, `performance.getEntriesByName("ready:overview")[0].startTime`))
	}
	slices.Sort(ms)
	transfer := eval[float64](t, b, `performance.getEntriesByType("resource").concat(performance.getEntriesByType("navigation")).reduce((a, e) => a + e.encodedBodySize, 0)`)
	t.Logf("overview first render on loopback: median %.0f ms (min %.0f, max %.0f) over %d loads; %.0f bytes of responses",
		ms[len(ms)/2], ms[0], ms[len(ms)-1], len(ms), transfer)
	t.Logf("last load's requests (start+duration ms): %s", eval[string](t, b,
		`performance.getEntriesByType("resource").map(e => e.name.replace(location.origin, "") + " " + e.startTime.toFixed(0) + "+" + e.duration.toFixed(0)).join(", ")`))
	b.check(t, "first render")
}

// makeTraffic sends ban checks to every node and a few ban writes for d,
// so that screenshots of the overview show something.
func makeTraffic(t *testing.T, ctx context.Context, cl *testnet.Client, nodes []*testnet.Node, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		n := nodes[i%len(nodes)]
		if _, err := cl.Do(ctx, "GET", n.HTTPAddr(), "/v1/tenants/studio/players/p-1/ban", nil); err != nil {
			t.Fatal(err)
		}
		if i%40 == 0 {
			rest(t, ctx, cl, "POST", n, "/v1/tenants/studio/bans",
				map[string]any{"player_id": fmt.Sprintf("bot-%d", i), "reason": "speed hack", "duration_seconds": 86400}, http.StatusCreated)
		}
		wave := 1 + int(time.Since(end.Add(-d)).Seconds())%20 // a saw tooth of load
		time.Sleep(time.Duration(wave) * time.Millisecond)
	}
}
