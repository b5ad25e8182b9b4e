// Package harness drives Debian's headless Chromium for the end-to-end tests: one
// browser per test, a virtual chip behind emulated Bluetooth or a fake Web NFC.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser. The tests never
// download one of their own: that fails on machines without network.
const ChromiumPath = "/usr/bin/chromium"

// DefaultTimeout bounds one test's work in the browser: a guard against a hang, not a
// measure of speed, so it is generous for a machine loaded by other runs.
const DefaultTimeout = 3 * time.Minute

// Option configures New.
type Option func(*config)

type config struct {
	timeout       time.Duration
	width, height int
	webBluetooth  bool
}

// Timeout bounds the whole test's work in the browser (default DefaultTimeout).
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WindowSize sets the viewport (default 412x915, a common phone).
func WindowSize(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// WithoutWebBluetooth launches Chromium as it ships on Linux, where
// navigator.bluetooth is undefined, for the "browser without Bluetooth" path.
func WithoutWebBluetooth() Option { return func(c *config) { c.webBluetooth = false } }

// Browser is one Chromium with one tab, owned by one test.
type Browser struct {
	t     testing.TB
	ctx   context.Context // the tab, ending at the test's deadline
	tab   context.Context // the tab without deadline: cleanup still works after a timeout
	bg    context.Context // background handlers; ends at cleanup
	wg    sync.WaitGroup  // background handlers, waited for at cleanup
	trace *trace

	mu       sync.Mutex
	bgErrs   []error // failures of background handlers, reported at cleanup
	emulated bool    // EmulateChip was called: Bluetooth emulation is browser-wide
	nfc      bool    // EmulateNFC was called
}

// New starts Chromium for t and closes it when t ends. When t has failed by then, it
// saves a full-page screenshot (see ArtifactsDir) and logs what the harness and the
// page said. A missing Chromium fails the test: the e2e suite is not optional.
//
// The methods that fail the test must run on t's goroutine, so a subtest gets a
// Browser of its own. t may be a benchmark's *testing.B (make bench).
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	cfg := config{timeout: DefaultTimeout, width: 412, height: 915, webBluetooth: true}
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("harness: %s: %v; install Chromium: apt-get update && apt-get install -y chromium chromium-driver", ChromiumPath, err)
	}

	tr := newTrace()
	profile := t.TempDir() // registered first, so removed after Chromium has exited
	stderr := &tailBuffer{max: 16 << 10}
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.CombinedOutput(stderr),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		// The machine has no network; without these Chromium keeps dialling out.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// Timers in a headless tab must not be throttled: the page's timeouts are
		// part of what the tests check.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	}
	if cfg.webBluetooth {
		// Linux Chromium ships Web Bluetooth behind this feature.
		flags = append(flags, chromedp.Flag("enable-features", "WebBluetooth"))
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	tab, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(f string, a ...any) { tr.add("chromedp: "+f, a...) }),
		chromedp.WithErrorf(func(f string, a ...any) { tr.add("chromedp error: "+f, a...) }),
	)
	bg, stopBg := context.WithCancel(tab)
	deadline := time.Now().Add(cfg.timeout)
	if d, ok := testDeadline(t); ok && d.Before(deadline) {
		deadline = d.Add(-5 * time.Second) // leave time for the screenshot and logs
	}
	ctx, cancelCtx := context.WithDeadline(tab, deadline)
	b := &Browser{t: t, ctx: ctx, tab: tab, bg: bg, trace: tr}

	t.Cleanup(func() {
		cancelCtx()
		b.reportBackground() // first, so that their failure gets a screenshot too
		if t.Failed() {
			b.saveScreenshot()
		}
		stopBg()
		b.wg.Wait()
		b.reportBackground()
		cancelTab()
		cancelAlloc() // waits for Chromium to exit, before TempDir is removed
		if t.Failed() {
			t.Logf("harness trace:\n%s", tr.String())
			if s := stderr.String(); s != "" {
				t.Logf("chromium output (tail):\n%s", s)
			}
		}
	})

	start := time.Now()
	if err := chromedp.Do(tab); err != nil { // starts Chromium, without the deadline
		t.Fatalf("harness: start %s: %v\nchromium output:\n%s", ChromiumPath, err, stderr.String())
	}
	tr.add("chromium started in %v", time.Since(start).Round(time.Millisecond))
	b.collectConsole()
	return b
}

// testDeadline is the test binary's deadline; only a *testing.T knows it.
func testDeadline(t testing.TB) (time.Time, bool) {
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		return dl.Deadline()
	}
	return time.Time{}, false
}

// Context is the tab's chromedp context. It ends at the test's deadline, so every
// action run with it is bounded.
func (b *Browser) Context() context.Context { return b.ctx }

// Logf adds a line to the trace that is printed when the test fails.
func (b *Browser) Logf(format string, args ...any) { b.trace.add(format, args...) }

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("harness: navigate to %s: %v", url, err)
	}
}

// Do runs chromedp actions in the tab and fails the test on error.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("harness: %v", err)
	}
}

// Click clicks the element that matches the CSS selector with real mouse events,
// which count as the user gesture requestDevice needs.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.t.Fatalf("harness: click %s: %v", selector, err)
	}
}

// Eval evaluates a JavaScript expression in the page, awaits it if it is a promise,
// and decodes its JSON value into T. A thrown exception or rejected promise fails
// the test; use EvalErr to look at it instead.
func Eval[T any](b *Browser, expression string) T {
	b.t.Helper()
	v, err := EvalErr[T](b, expression)
	if err != nil {
		b.t.Fatalf("harness: evaluate %s: %v", abbreviate(expression), err)
	}
	return v
}

// EvalErr is Eval that returns the error.
func EvalErr[T any](b *Browser, expression string) (T, error) {
	return chromedp.Run(b.ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
}

// background runs fn until the test ends; an error it returns fails the test at
// cleanup, unless it is only the end of the test.
func (b *Browser) background(name string, fn func(ctx context.Context) error) {
	b.wg.Go(func() {
		if err := fn(b.bg); err != nil && b.bg.Err() == nil {
			b.fail(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// reportBackground fails the test with the failures of background handlers.
func (b *Browser) reportBackground() {
	b.mu.Lock()
	errs := b.bgErrs
	b.bgErrs = nil
	b.mu.Unlock()
	for _, err := range errs {
		b.t.Errorf("harness: %v", err)
	}
}

// fail records a failure seen off the test's goroutine, where t.Fatal may not run.
func (b *Browser) fail(err error) {
	b.trace.add("FAIL: %v", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bgErrs = append(b.bgErrs, err)
}

func (b *Browser) collectConsole() {
	messages := chromedp.Console(b.bg)
	b.wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.trace.add("page %s: %s", m.Type, m.String())
		}
	})
}

// ArtifactsDir is where screenshots of failed tests go: $E2E_ARTIFACTS, or
// e2e/artifacts in the module.
func ArtifactsDir() (string, error) {
	if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "e2e", "artifacts"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Screenshot saves a full-page PNG of the tab as name.png in ArtifactsDir and
// returns its path. It works after the test's deadline has passed.
func (b *Browser) Screenshot(name string) (string, error) {
	dir, err := ArtifactsDir()
	if err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	path := filepath.Join(dir, fileName(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("screenshot: %w", err)
	}
	return path, nil
}

func (b *Browser) saveScreenshot() {
	path, err := b.Screenshot(b.t.Name())
	if err != nil {
		b.t.Logf("harness: no screenshot of the failure: %v", err)
		return
	}
	b.t.Logf("harness: screenshot of the failure: %s", path)
}

// fileName turns a test name such as TestX/case_1 into a safe file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// trace is the harness's own log, kept quiet unless the test fails.
type trace struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

const maxTraceLines = 1000

func newTrace() *trace { return &trace{start: time.Now()} }

func (tr *trace) add(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(tr.start).Seconds()) + fmt.Sprintf(format, args...)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.lines) == maxTraceLines {
		tr.lines = append(tr.lines[:0:0], tr.lines[maxTraceLines/2:]...)
		tr.lines = append(tr.lines, "... (earlier lines dropped)")
	}
	tr.lines = append(tr.lines, line)
}

func (tr *trace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.lines, "\n")
}

// tailBuffer keeps the last max bytes written to it: Chromium's output is only
// wanted when something broke, and then its end matters most.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if over := len(w.b) - w.max; over > 0 {
		w.b = append(w.b[:0:0], w.b[over:]...)
	}
	return len(p), nil
}

// String returns the kept output without the complaints about the missing D-Bus,
// which Chromium repeats all the time on a machine without a desktop.
func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keep []string
	for line := range strings.Lines(string(w.b)) {
		if !strings.Contains(line, ":ERROR:dbus/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}
