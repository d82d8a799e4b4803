package console_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cassandranet/cassnet/testnet"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's headless chromium with chromedp
// against a real three-node cluster of cassnet agent processes. They skip
// when no chromium is installed (.ci/run installs it) and under -short.

// binPath is the cassnet binary; TestMain builds it with -race unless
// CASSNET_BIN names one.
var binPath string

// screenshots, when set, is a directory the tests write PNGs of every
// page into, at 1280 and 390 px (docs/console/ is made this way).
var screenshots = flag.String("console.screenshots", "", "write page screenshots into this directory")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// buildBinary builds cassnet with -race once, the first time a browser
// test needs it, unless CASSNET_BIN names a binary.
func buildBinary(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("CASSNET_BIN"); p != "" {
			binPath = p
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "cassnet-console-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "cassnet")
		build := exec.Command("go", "build", "-race", "-o", binPath, "../cmd/cassnet")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build cassnet: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// chromiumPath finds a chromium binary, or "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startCluster starts three agents on 127.0.0.1-3 and waits for three
// voters and a leader.
func startCluster(t *testing.T, ctx context.Context, agentArgs ...string) (*testnet.Cluster, *testnet.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agent processes and a browser")
	}
	if chromiumPath() == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	buildBinary(t)
	dir := t.TempDir()
	c, err := testnet.NewCluster(testnet.Config{Bin: binPath, Dir: dir,
		AgentArgs: append([]string{"--stabilization-time", "2s"}, agentArgs...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Shutdown()
		if t.Failed() {
			for _, nd := range c.Nodes() {
				if b, err := os.ReadFile(nd.LogPath()); err == nil {
					if len(b) > 4000 {
						b = b[len(b)-4000:]
					}
					t.Logf("==== %s log (tail) ====\n%s", nd.Name, b)
				}
			}
		}
	})
	for i := 1; i <= 3; i++ {
		if _, err := c.AddNode(ctx, fmt.Sprintf("n%d", i), fmt.Sprintf("127.0.0.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cl := testnet.NewClient(c.AdminToken())
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := testnet.WaitVoters(wctx, cl, c.Nodes(), 3); err != nil {
		t.Fatalf("cluster did not settle: %v", err)
	}
	return c, cl
}

// browser is one headless chromium tab that records everything that
// went wrong on its pages: console errors, uncaught exceptions, failed
// or 4xx/5xx requests, and any JavaScript dialog (which only an injected
// script would open).
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string
	dialogs  []string
	paused   bool
}

func newBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath()), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("lang", "en-US"))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	b := &browser{ctx: bctx}
	if err := chromedp.Listen(bctx, b.record); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// record runs on chromedp's reader goroutine: it must be quick.
func (b *browser) record(ev any) {
	var problem string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			problem = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
		}
	case *runtime.EventExceptionThrown:
		problem = "exception: " + (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error()
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			problem = "log " + string(e.Entry.Source) + ": " + e.Entry.Text + " " + e.Entry.URL
		}
	case *network.EventLoadingFailed:
		if !e.Canceled {
			problem = "request failed: " + e.ErrorText + " " + string(e.BlockedReason)
		}
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			problem = fmt.Sprintf("response %d for %s", e.Response.Status, e.Response.URL)
		}
	case *page.EventJavascriptDialogOpening:
		b.mu.Lock()
		b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
		b.mu.Unlock()
		go func() { // not on the reader goroutine
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	}
	if problem == "" {
		return
	}
	b.mu.Lock()
	if !b.paused {
		b.problems = append(b.problems, problem)
	}
	b.mu.Unlock()
}

// check fails the test with every problem recorded since the last check.
func (b *browser) check(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	problems, dialogs := b.problems, b.dialogs
	b.problems, b.dialogs = nil, nil
	b.mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s: %s", where, p)
	}
	for _, d := range dialogs {
		t.Errorf("%s: a JavaScript dialog opened (injected script ran?): %s", where, d)
	}
}

// expectErrors stops recording problems (for steps that must fail, such
// as requests after logout), or resumes.
func (b *browser) expectErrors(on bool) {
	b.mu.Lock()
	b.paused = on
	b.mu.Unlock()
}

// do runs chromedp actions with a time-out.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// doSettled is do for a step whose target a re-render may replace
// between chromedp's query and its click (the page redraws a list once a
// save lands): on "Could not find node with given id" it tries again, for
// up to 15 s. Any other error fails at once, as in do.
func (b *browser) doSettled(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		err := chromedp.Do(ctx, actions...)
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node with given id") || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// openPage goes to a console page and waits until it has rendered.
func (b *browser) openPage(t *testing.T, base, id string) {
	t.Helper()
	b.do(t, "open "+id,
		chromedp.Navigate(base+"/ui/#/"+id),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-page="`+id+`"][data-ready="true"]`)))
}

// screenshot writes the current page at both widths into -console.screenshots.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	for _, w := range []int64{1280, 390} {
		h := int64(900)
		if w == 390 {
			h = 844
		}
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		buf, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h), chromedp.Sleep(400*time.Millisecond),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("status")?.replaceChildren()`)); err != nil {
				return nil, err
			}
			if name == "docs" { // Swagger UI's page is very long: the first screen says enough
				return chromedp.CaptureScreenshot()(ctx, tg)
			}
			return chromedp.FullScreenshot(100)(ctx, tg)
		})
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(*screenshots, fmt.Sprintf("%s-%d.png", name, w)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do(t, "restore viewport", chromedp.EmulateViewport(1280, 900))
}
