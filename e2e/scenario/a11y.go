package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mitidchip/chip/virtual"
	"mitidchip/e2e/harness"
)

// AxeScript is where `make axe` installs axe-core (pinned in e2e/axe/package-lock.json),
// relative to the module root.
const AxeScript = "e2e/axe/node_modules/axe-core/axe.min.js"

// WCAG21AA are the axe-core tags of the WCAG 2.0 and 2.1 success criteria at levels
// A and AA: the rules the page must pass.
var WCAG21AA = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// Axe is axe-core's source, read once per test and injected into each document.
type Axe struct {
	Version string // as pinned in e2e/axe/package-lock.json
	source  string
}

// LoadAxe reads axe-core from AxeScript and checks it is the pinned version. Without
// it the test fails: the accessibility checks are part of the suite, not an extra.
func LoadAxe(t testing.TB) *Axe {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "e2e", "axe")
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(AxeScript)))
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("axe-core: %s is missing: run `make axe` (npm ci --prefix e2e/axe)", AxeScript)
	}
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	var installed struct {
		Version string `json:"version"`
	}
	if err := readJSON(filepath.Join(dir, "package-lock.json"), &lock); err != nil {
		t.Fatalf("axe-core: the pin: %v", err)
	}
	if err := readJSON(filepath.Join(dir, "node_modules", "axe-core", "package.json"), &installed); err != nil {
		t.Fatalf("axe-core: the installed version: %v", err)
	}
	pinned := lock.Packages["node_modules/axe-core"].Version
	if pinned == "" || installed.Version != pinned {
		t.Fatalf("axe-core: expected version %q as pinned in e2e/axe/package-lock.json, got %q installed: run `make axe`", pinned, installed.Version)
	}
	return &Axe{Version: pinned, source: string(b)}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// AxeReport is what axe-core found on the page as it was.
type AxeReport struct {
	Violations []AxeViolation `json:"violations"`
	Passes     int            `json:"passes"`     // rules that passed
	Incomplete int            `json:"incomplete"` // rules axe could not decide
}

// AxeViolation is a rule the page breaks, with the elements that break it.
type AxeViolation struct {
	Rule    string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v AxeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s; at %s", v.Rule, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// Axe runs axe-core's WCAG 2.1 A and AA rules on the whole document. The script goes
// in through the DevTools protocol (Runtime.evaluate), which the page's
// Content-Security-Policy does not govern, so the page needs no exception for it.
func (p *Page) Axe(a *Axe) AxeReport {
	p.t.Helper()
	if !Eval[bool](p, "typeof globalThis.axe === 'object'") {
		if _, err := harness.EvalErr[string](p.B, a.source+"\n;typeof axe"); err != nil {
			p.t.Fatalf("inject axe-core: %v", err)
		}
	}
	tags, _ := json.Marshal(WCAG21AA)
	return Eval[AxeReport](p, `axe.run(document, {
		runOnly: {type: 'tag', values: `+string(tags)+`},
		resultTypes: ['violations'],
	}).then((r) => ({
		violations: r.violations.map((v) => ({
			id: v.id, impact: v.impact || '', help: v.help,
			targets: v.nodes.map((n) => n.target.flat(Infinity).join(' ')),
		})),
		passes: r.passes.length,
		incomplete: r.incomplete.length,
	}))`)
}

// MaxTabs bounds TabTo: the page has fewer stops than this in its tab order.
const MaxTabs = 40

// Press sends key events to whatever has focus, as a person at the keyboard does:
// kb.Tab, kb.Enter, " ", or text to type.
func (p *Page) Press(keys string, opts ...chromedp.KeyOption) {
	p.t.Helper()
	if err := chromedp.Do(p.B.Context(), chromedp.KeyEvent(keys, opts...)); err != nil {
		p.t.Fatalf("press %q: %v", keys, err)
	}
}

// TabTo presses Tab until the element matching selector has the focus, and fails
// when it is not in the tab order.
func (p *Page) TabTo(selector string) { p.t.Helper(); p.tabTo(selector) }

// TabBackTo is TabTo with Shift+Tab, towards the top of the page.
func (p *Page) TabBackTo(selector string) {
	p.t.Helper()
	p.tabTo(selector, chromedp.KeyModifiers(chromedp.ModifierShift))
}

func (p *Page) tabTo(selector string, opts ...chromedp.KeyOption) {
	p.t.Helper()
	focused := "document.activeElement && document.activeElement.matches(" + quote(selector) + ")"
	var path []string
	for range MaxTabs {
		if Eval[bool](p, focused) {
			return
		}
		p.Press(kb.Tab, opts...)
		path = append(path, Eval[string](p, `(() => {
			const el = document.activeElement;
			return el ? el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') : 'nothing';
		})()`))
	}
	p.t.Fatalf("tab to %s: not reached in %d presses of Tab; focus went %s", selector, MaxTabs, strings.Join(path, " → "))
}

// HeadingFocused tells whether the keyboard focus is on the heading of the section
// step-<step>: where the page puts it when the step appears.
func (p *Page) HeadingFocused(step string) bool {
	p.t.Helper()
	return Eval[bool](p, "document.activeElement === document.querySelector("+quote("#step-"+step+" h2")+")")
}

// Focused names the element with the keyboard focus, for messages.
func (p *Page) Focused() string {
	p.t.Helper()
	return Eval[string](p, `(() => {
		const el = document.activeElement;
		if (!el) return 'nothing';
		return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + JSON.stringify(el.textContent.trim().slice(0, 60));
	})()`)
}

// Languages are the page's languages, Danish first as on MitID.dk.
var Languages = []string{"da", "en"}

// InEachLanguage calls fn with the page in each language: first in the one it is in,
// then in the other after a click on the language switch. It works on an error step.
func (p *Page) InEachLanguage(fn func(lang string)) {
	p.t.Helper()
	lang := p.Lang()
	fn(lang)
	other := Languages[0]
	if lang == other {
		other = Languages[1]
	}
	p.SwitchLanguage(other)
	fn(other)
}

// Enlarged is a way a person makes the page bigger.
type Enlarged struct {
	Name string
	// The viewport in CSS px and the device pixels per CSS px.
	Width, Height int64
	Scale         float64
	// FontSize is the browser's default font size in px (16 unless the person
	// changed it); the page's rem follow it.
	FontSize int64
}

// The two ways to 200% that WCAG 1.4.4 (resize text) and 1.4.10 (reflow) are about.
var (
	// PageZoom200 is a 640×800 window zoomed to 200%: page zoom divides the CSS
	// viewport by the zoom and multiplies device pixels by it. 320 CSS px is also
	// the width WCAG 1.4.10 names (1280 px at 400%).
	PageZoom200 = Enlarged{Name: "page zoom 200%", Width: 320, Height: 400, Scale: 2, FontSize: 16}
	// TextSize200 is a 390 px phone with the browser's text size at 200%.
	TextSize200 = Enlarged{Name: "text size 200%", Width: 390, Height: 844, Scale: 1, FontSize: 32}
)

// Enlarge shows the page as e does. It lasts across navigations, until the next call.
func (p *Page) Enlarge(e Enlarged) {
	p.t.Helper()
	err := chromedp.Do(p.B.Context(),
		chromedp.EmulateViewport(e.Width, e.Height, chromedp.EmulateScale(e.Scale)),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.SetFontSizes, page.SetFontSizesParams{FontSizes: &page.FontSizes{Standard: e.FontSize}})
			return err
		}))
	if err != nil {
		p.t.Fatalf("enlarge the page (%s): %v", e.Name, err)
	}
}

// Outside is what a person would have to scroll sideways to see, or could not see
// at all: the document wider than the viewport, each visible element (text,
// control) reaching past either edge, and each box that cuts its content off.
// Elements hidden for screen readers only (1×1 px, clipped) are not seen anyway.
func (p *Page) Outside() []string {
	p.t.Helper()
	return Eval[[]string](p, `(() => {
		const root = document.documentElement;
		const width = root.clientWidth;
		const out = [];
		if (root.scrollWidth > width) out.push('the page is ' + root.scrollWidth + ' px wide in a ' + width + ' px viewport');
		const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
			(el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
		for (const el of document.body.querySelectorAll('*')) {
			if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
			const r = el.getBoundingClientRect();
			if (r.width <= 1 && r.height <= 1) continue;
			if (r.left < -0.5 || r.right > width + 0.5) {
				out.push(name(el) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px of ' + width);
			}
			// A text field scrolls its own value; any other box that does not show
			// all it holds hides words.
			if (el.matches('input, textarea, select')) continue;
			const style = getComputedStyle(el);
			if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
				out.push(name(el) + ' shows ' + el.clientWidth + ' px of its ' + el.scrollWidth + ' px wide content (overflow-x: ' + style.overflowX + ')');
			}
		}
		// Text can spill out of a box that is itself within the viewport; not text
		// in a box of 1×1 px, there for screen readers only.
		const forScreenReaders = (el) => {
			for (let a = el; a; a = a.parentElement) {
				const r = a.getBoundingClientRect();
				if (r.width <= 1 && r.height <= 1) return true;
			}
			return false;
		};
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		const range = document.createRange();
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			const el = n.parentElement;
			if (!n.textContent.trim() || !el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
			if (forScreenReaders(el)) continue;
			range.selectNodeContents(n);
			const r = range.getBoundingClientRect();
			if (r.width <= 1 && r.height <= 1) continue;
			if (r.left < -0.5 || r.right > width + 0.5) {
				out.push(name(el) + ' has text ' + JSON.stringify(n.textContent.trim().slice(0, 40)) + ' spanning ' +
					Math.round(r.left) + '..' + Math.round(r.right) + ' px of ' + width);
			}
		}
		return out;
	})()`)
}

// Console is what the page wrote to its console as errors, and the exceptions it
// did not catch.
type Console struct {
	mu     sync.Mutex
	errors []string
	all    []string
}

// WatchConsole collects the page's console errors from now until t ends. Call it
// before the page loads to see everything.
func WatchConsole(t testing.TB, b *harness.Browser) *Console {
	t.Helper()
	c := &Console{}
	ctx, cancel := context.WithCancel(b.Context())
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.all = append(c.all, fmt.Sprintf("%s (%s %s:%d)", m, m.Source, m.URL, m.Line))
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.errors = append(c.errors, m.Text)
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// Errors are the errors seen so far.
func (c *Console) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errors...)
}

// All is every message seen so far, of any level: console calls, exceptions and
// the browser's own log (a refused header, a failed request).
func (c *Console) All() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.all...)
}

// Catalogue is the whole message catalogue for lang, as the server publishes it.
func (s *Server) Catalogue(t testing.TB, lang string) map[string]string {
	t.Helper()
	b, err := Asset(s.Config.AssetsDir, "i18n/"+lang+".json")
	if err != nil {
		t.Fatalf("catalogue %s: %v", lang, err)
	}
	var cat map[string]string
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatalf("catalogue %s: %v", lang, err)
	}
	return cat
}

// The stops of Tour, in order: every step a person can see, the wrong-code message,
// and the help page.
var TourStops = []string{"password", "chip", "connect", "code", "sign", "completed", "code-wrong", "blocked", "error", "help"}

// TourTimeout bounds a whole Tour: two activations, each with Argon2id in the page,
// and whatever the visits do.
const TourTimeout = 3 * time.Minute

// TourPassword is the password the tour's people choose.
const TourPassword = "Kanelsnegl i regnvejr 9"

// TourOption configures Tour.
type TourOption func(*tourConfig)

type tourConfig struct {
	onBrowser func(*harness.Browser)
}

// OnBrowser is called with the tour's browser before it loads any page.
func OnBrowser(f func(*harness.Browser)) TourOption {
	return func(c *tourConfig) { c.onBrowser = f }
}

// Tour walks the page through every step a person can meet and calls visit at each
// stop (TourStops), with the step shown and settled:
//   - a whole activation over NFC: password (typed, every rule met), chip (NFC,
//     Bluetooth and the dev virtual chip on offer), connect, code, sign (the chip
//     waiting for its button), completed;
//   - a second person over Bluetooth who types a wrong code (code-wrong, with the
//     tries left) and then two more (blocked);
//   - the first person's link opened again (error: the link has been used).
//   - the help page, as the footer's link opens it.
//
// visit may switch the language and look around, but must leave the step as it was.
func Tour(t testing.TB, visit func(p *Page, stop string), opts ...TourOption) {
	t.Helper()
	var cfg tourConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := Start(t)
	nfcChip := chipOf(t, s, "MC-000001")
	btChip := chipOf(t, s, "MC-000002")
	b := harness.New(t, harness.Timeout(TourTimeout))
	if cfg.onBrowser != nil {
		cfg.onBrowser(b)
	}
	b.EmulateNFC(nfcChip)
	b.EmulateChip(btChip)

	first := s.NewLink(t, "e2e-tour-person-1", "tour.one")
	p := Open(t, b, s, first)
	p.WaitPasswordReady()
	p.Type("#password", TourPassword)
	p.Type("#password-repeat", TourPassword)
	p.WaitJS("every password rule met", "[...document.querySelectorAll('#password-rules li')].every(li => li.dataset.state === 'met')")
	visit(p, "password")
	p.Click("#next-password")
	p.waitStep("chip", PasswordTimeout)
	p.waitTransports()
	visit(p, "chip")
	p.ChooseTransport("nfc")
	visit(p, "connect")
	p.Connect()
	visit(p, "code")
	p.EnterCode(p.ReadCode(nfcChip))
	b.WaitChip(nfcChip, "waiting for its button", (*virtual.Chip).Waiting)
	visit(p, "sign")
	p.ConfirmOnChip(nfcChip)
	p.ExpectCompleted()
	visit(p, "completed")

	// A second person in the same browser: the link opens a new activation.
	b.Navigate("about:blank")
	p = Open(t, b, s, s.NewLink(t, "e2e-tour-person-2", "tour.two"))
	p.CreatePassword(TourPassword)
	p.waitTransports()
	p.ChooseTransport("bluetooth")
	p.Connect()
	p.ReadCode(btChip)
	wrong := s.WrongCode(t, btChip)
	p.SubmitCode(wrong)
	p.ExpectError("code", p.Message("error.code_wrong", nil), p.Message("code.tries_left.other", map[string]string{"n": "2"}))
	visit(p, "code-wrong")
	p.SubmitCode(wrong)
	p.ExpectError("code", p.Message("error.code_wrong", nil), p.Message("code.tries_left.one", nil))
	p.SubmitCode(wrong)
	p.WaitStep("blocked")
	visit(p, "blocked")

	// The first link again: it was redeemed, so the page says so.
	b.Navigate("about:blank")
	p = Open(t, b, s, first)
	p.WaitStep("error")
	if code := Eval[string](p, "document.body.dataset.error"); code != "handoff_used" {
		t.Fatalf("the first link opened again: expected the error handoff_used, got %q", code)
	}
	visit(p, "error")

	p = OpenHelp(t, b, s, p.helpHref("footer-help"))
	visit(p, "help")
}

// helpHref is where the link with id points, made absolute.
func (p *Page) helpHref(id string) string {
	p.t.Helper()
	return Eval[string](p, "document.getElementById("+quote(id)+").href")
}

// OpenHelp opens the help page at url and waits until it is in its language, with
// the list of error messages made.
func OpenHelp(t testing.TB, b *harness.Browser, s *Server, url string) *Page {
	t.Helper()
	p := Open(t, b, s, url)
	p.WaitStep("help")
	p.WaitJS("the help page ready", "document.getElementById('lang-toggle').checkVisibility() && "+
		"document.querySelectorAll('#error-list dt').length > 0")
	return p
}

func chipOf(t testing.TB, s *Server, serial string) *virtual.Chip {
	t.Helper()
	vc := s.Chips.Chip(serial)
	if vc == nil {
		t.Fatalf("dev chips: expected %s, there is none", serial)
	}
	return vc
}

// waitTransports waits until the chip step offers NFC and Bluetooth.
func (p *Page) waitTransports() {
	p.t.Helper()
	p.WaitJS("NFC and Bluetooth on offer", "document.getElementById('transport-checking').hidden && "+
		"document.getElementById('transport-nfc').checkVisibility() && document.getElementById('transport-bluetooth').checkVisibility()")
}

// Server is the server the page was opened on.
func (p *Page) Server() *Server { return p.srv }
